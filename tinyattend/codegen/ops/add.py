"""ADD: int8 with broadcasting (up to 4 dimensions), TFLM's 20-bit headroom rescaling."""
from __future__ import annotations

import numpy as np

from ...ir.quant import activation_range, quantize_multiplier
from ..lowering import KernelCall, TensorArg, shape4, unsupported
from ._checks import fused_activation, int8_activations, rank_at_most

OP_TYPES = ("ADD",)
LEFT_SHIFT = 20


def check(op, graph, target) -> list[str]:
    return unsupported([int8_activations(op, graph, inputs=(0, 1)), fused_activation(op), rank_at_most(op, graph, 4)])


def broadcast_strides(in_shape, out_shape) -> list[int]:
    """Element strides of `in_shape` read along `out_shape`: 0 where the input broadcasts."""
    s_in, s_out = shape4(in_shape), shape4(out_shape)
    strides, step = [0] * 4, 1
    for axis in range(3, -1, -1):
        strides[axis] = 0 if (s_in[axis] == 1 and s_out[axis] != 1) else step
        step *= s_in[axis]
    return strides


def add_quant_params(x1, x2, y):
    """TFLM's CalculateOpDataAdd for int8."""
    twice_max = 2.0 * float(max(np.float32(x1.scale), np.float32(x2.scale)))
    m1, s1 = quantize_multiplier(float(np.float32(x1.scale)) / twice_max)
    m2, s2 = quantize_multiplier(float(np.float32(x2.scale)) / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * float(np.float32(y.scale))))
    return m1, s1, m2, s2, mo, so


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2, mo, so = add_quant_params(x1, x2, y)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
    broadcast = x1.shape != x2.shape
    return KernelCall(
        function="ta_add_s8",
        sources=("elementwise/ta_add_s8.c", "elementwise/ta_add_s8.h"),
        params_type="ta_add_params",
        params=(
            ("size", y.num_elements), ("broadcast", int(broadcast)),
            ("out_dims", shape4(y.shape)),
            ("in1_strides", tuple(broadcast_strides(x1.shape, y.shape))),
            ("in2_strides", tuple(broadcast_strides(x2.shape, y.shape))),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point), ("output_offset", y.zero_point),
            ("left_shift", LEFT_SHIFT),
            ("input1_multiplier", m1), ("input1_shift", s1), ("input2_multiplier", m2), ("input2_shift", s2),
            ("output_multiplier", mo), ("output_shift", so),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0], const=graph.tensor(op.inputs[0]).is_constant),
              TensorArg(op.inputs[1], const=graph.tensor(op.inputs[1]).is_constant), TensorArg(op.outputs[0])),
        in_place=not broadcast,
    )
