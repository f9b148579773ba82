"""MUL: int8 with broadcasting (up to 4 dimensions), one rescale by s1*s2/so as TFLM does."""
from __future__ import annotations

import numpy as np

from ...ir.quant import activation_range, quantize_multiplier
from ..lowering import KernelCall, TensorArg
from ._broadcast import arithmetic_reasons, broadcast_fields, is_broadcast
from ._fast import round_constants, wants_fast

OP_TYPES = ("MUL",)


def check(op, graph, target) -> list[str]:
    return arithmetic_reasons(op, graph)


def mul_multiplier(x1, x2, y) -> tuple[int, int]:
    """TFLM's CalculateOpDataMul: float32 scales, product and quotient in double."""
    return quantize_multiplier(float(x1.scale) * float(x2.scale) / float(y.scale))


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    mult, shift = mul_multiplier(x1, x2, y)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
    if wants_fast(target) and not is_broadcast(x1, x2, y) and shift <= -1:
        # |product| <= 255 * 255 < 2^30 and a right shift: the short requantization is exact.
        return KernelCall(
            function="ta_mul_s8_fast",
            sources=("fast/ta_mul_s8_fast.c", "fast/ta_mul_s8_fast.h", "fast/ta_dsp.h"),
            params_type="ta_mul_fast_params",
            params=(
                ("size", y.num_elements), ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point),
                ("output_multiplier", mult), ("output_right_shift", -shift),
                ("output_round", int(round_constants(np.array([shift]), y.zero_point, True)[0])),
                ("act_min", act_min), ("act_max", act_max),
            ),
            args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
            in_place=True,
            macs=y.num_elements,
        )
    return KernelCall(
        function="ta_mul_s8",
        sources=("elementwise/ta_mul_s8.c", "elementwise/ta_mul_s8.h", "elementwise/ta_broadcast.h"),
        params_type="ta_mul_params",
        params=(
            *broadcast_fields(x1, x2, y),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point), ("output_offset", y.zero_point),
            ("output_multiplier", mult), ("output_shift", shift),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
        in_place=not is_broadcast(x1, x2, y),
        macs=y.num_elements,
    )
