"""FULLY_CONNECTED -> arm_fully_connected_s8 (per-tensor) or arm_fully_connected_per_channel_s8.

On MVE the library reads per-row kernel sums from its context buffer (and fails without
them); TFLM computes them once with arm_vector_sum_s8. Here they are computed at
generation time and stored as constant data beside the weights.
"""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, TensorArg, unsupported
from ..ops import fully_connected as portable
from ..ops._conv_quant import channel_multipliers, output_range
from . import _buffer_sizes as sizes
from ._conv_common import bias_arg, per_channel_constants, weights_reasons
from ._structs import activation, call, const_pointer, core, dims, name, struct

OP_TYPES = ("FULLY_CONNECTED",)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    return unsupported(weights_reasons(op, graph, "weights"))


def kernel_sums(weights: np.ndarray, bias: np.ndarray | None, input_offset: int, filter_offset: int) -> np.ndarray:
    """arm_vector_sum_s8: bias[r] + input_offset * (sum_c w[r, c] + cols * filter_offset), in int32."""
    rows, cols = weights.shape
    sums = np.zeros(rows, dtype=np.int64) if bias is None else bias.astype(np.int64)
    if input_offset:
        row = weights.astype(np.int64).sum(axis=1)
        if filter_offset:
            row = row + cols * filter_offset
        row = ((row + (1 << 31)) % (1 << 32)) - (1 << 31)         # the library sums in int32
        sums = sums + row * input_offset
    return (((sums + (1 << 31)) % (1 << 32)) - (1 << 31)).astype(np.int32)


def lower(op, graph, target):
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_depth, in_depth = w.shape
    batches = x.num_elements // in_depth
    per_channel = w.quant.per_channel
    act_min, act_max = output_range(graph, op)
    bias, bias_constants = bias_arg(op, out_depth)
    constants = list(bias_constants)
    declarations = [
        struct("cmsis_nn_fc_params", name(op, "fc"), {
            "input_offset": -x.zero_point, "filter_offset": -w.zero_point, "output_offset": y.zero_point,
            "activation": activation(act_min, act_max)}),
    ]
    if per_channel:
        function, quant_type = "arm_fully_connected_per_channel_s8", "cmsis_nn_per_channel_quant_params"
        constants += per_channel_constants(graph, op, out_depth)
        quant = {"multiplier": const_pointer(f"ta_op{op.index}_mult"), "shift": const_pointer(f"ta_op{op.index}_shift")}
    else:
        function, quant_type = "arm_fully_connected_s8", "cmsis_nn_per_tensor_quant_params"
        mult, shift = channel_multipliers(graph, op, 1)
        quant = {"multiplier": int(mult[0]), "shift": int(shift[0])}
    declarations += [
        struct(quant_type, name(op, "quant"), quant),
        dims(name(op, "input_dims"), batches, 1, 1, in_depth),
        dims(name(op, "filter_dims"), in_depth, 1, 1, out_depth),
        dims(name(op, "bias_dims"), 1, 1, 1, out_depth),
        dims(name(op, "output_dims"), batches, 1, 1, out_depth),
    ]
    sums_bytes = sizes.fully_connected_s8(core(target), out_depth)
    if sums_bytes:
        b = graph.tensor(op.inputs[2]).array() if len(op.inputs) > 2 and op.inputs[2] is not None else None
        constants.append(ConstArray("kernel_sums", "int32_t", kernel_sums(w.array(), b, -x.zero_point, -w.zero_point)))
        ctx = f"&(cmsis_nn_context){{.buf = (void *)ta_op{op.index}_kernel_sums, .size = {sums_bytes}}}"
    else:
        ctx = "&(cmsis_nn_context){.buf = NULL, .size = 0}"
    return call(
        function,
        args=(ctx, f"&{name(op, 'fc')}", f"&{name(op, 'quant')}",
              f"&{name(op, 'input_dims')}", TensorArg(op.inputs[0], const=True),
              f"&{name(op, 'filter_dims')}", TensorArg(op.inputs[1], const=True),
              f"&{name(op, 'bias_dims')}", bias,
              f"&{name(op, 'output_dims')}", TensorArg(op.outputs[0])),
        constants=tuple(constants),
        declarations=tuple(declarations),
        macs=batches * in_depth * out_depth,
    )
