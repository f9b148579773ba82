"""PRELU: int8, a constant alpha broadcast over the input (one per channel, or one in all), as TFLM does it.

TFLM's BroadcastPrelu4DSlow: for x = input - input_zero_point, x >= 0 gives x * (s_in / s_out), x < 0
gives x * (alpha - alpha_zero_point) * (s_in * s_alpha / s_out), each rescaled once
(MultiplyByQuantizedMultiplier), plus the output zero point, clamped to int8. The multipliers are
computed in double from the float32 scales (CalculatePreluParams).
"""
from __future__ import annotations

from ...ir.quant import quantize_multiplier
from ..lowering import KernelCall, TensorArg, shape4, unsupported
from ._broadcast import MAX_RANK, broadcast_fields, broadcast_reason, is_broadcast  # noqa: F401 - MAX_RANK
from ._checks import constant_input, int8_activations

OP_TYPES = ("PRELU",)


def multipliers(x, alpha, y) -> tuple[int, int, int, int]:
    """(identity multiplier, shift, alpha multiplier, shift)."""
    identity = quantize_multiplier(float(x.scale) / float(y.scale))
    negative = quantize_multiplier(float(x.scale) * float(alpha.scale) / float(y.scale))
    return (*identity, *negative)


def check(op, graph, target) -> list[str]:
    if len(op.inputs) != 2 or None in op.inputs:
        return ["PRELU needs an input and an alpha"]
    reasons = [int8_activations(op, graph, inputs=(0, 1)), constant_input(op, graph, 1, "alpha")]
    if reasons[0]:
        return unsupported(reasons)
    x, alpha, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    reasons.append(broadcast_reason(op, graph))
    if not reasons[-1] and shape4(x.shape) != shape4(y.shape):
        reasons.append(f"the input {list(x.shape)} must have the output's shape {list(y.shape)}")
    if alpha.quant.per_channel:
        reasons.append("alpha has per-channel scales; TFLM's PRELU takes one scale for alpha")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x, alpha, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2 = multipliers(x, alpha, y)
    return KernelCall(
        function="ta_prelu_s8",
        sources=("activation/ta_prelu_s8.c", "activation/ta_prelu_s8.h", "elementwise/ta_broadcast.h"),
        params_type="ta_prelu_params",
        params=(
            *broadcast_fields(x, alpha, y),
            ("input_offset", -x.zero_point), ("alpha_offset", -alpha.zero_point), ("output_offset", y.zero_point),
            ("identity_multiplier", m1), ("identity_shift", s1), ("alpha_multiplier", m2), ("alpha_shift", s2),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
        in_place=True,
        macs=y.num_elements,
    )
