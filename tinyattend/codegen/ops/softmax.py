"""SOFTMAX: int8 in, int8 out (scale 1/256, zero point -128), any beta, over the last axis.

TFLM scales each difference to the row maximum by beta * input_scale into a
Q5.26 value, takes its fixed-point exp, sums the exps with 12 integer bits and
multiplies by the sum's fixed-point reciprocal. An int8 difference lies in
[-255, 0], so the scaled exps form a 256-entry table computed here; the C
kernel does the sum, the reciprocal and the output scaling.
"""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg, unsupported
from ._checks import int8_activations
from ._fixedpoint import exp_negative, input_radius, quantize_multiplier, requantize

OP_TYPES = ("SOFTMAX",)
SCALED_DIFF_INTEGER_BITS = 5
MAX_DEPTH = 4095          # keeps the Q12 sum of exps inside int32


def scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """TFLM's PreprocessSoftmaxScaling and CalculateInputRadius: (multiplier, left_shift, diff_min)."""
    real = float(np.float32(beta)) * float(np.float32(input_scale)) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
    real = min(real, float((1 << 31) - 1))
    multiplier, shift = quantize_multiplier(real)
    diff_min = -input_radius(SCALED_DIFF_INTEGER_BITS, shift) if shift >= 0 else 0
    return multiplier, shift, diff_min


def exp_table(beta: float, input_scale: float) -> np.ndarray:
    """exp_table[d], d = max - x in [0, 255]: TFLM's Q0 exp of the scaled difference -d, 0 if skipped."""
    multiplier, shift, diff_min = scaling(beta, input_scale)
    table = np.zeros(256, dtype=np.int64)
    for d in range(256):
        diff = -d
        if diff >= diff_min:
            table[d] = exp_negative(requantize(diff, multiplier, shift), SCALED_DIFF_INTEGER_BITS)
    return table.astype(np.int32)


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph)]
    if reasons[0]:
        return unsupported(reasons)
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if y.zero_point != -128 or float(np.float32(y.scale)) != 1.0 / 256:
        reasons.append(f"output quantization is scale {y.scale}, zero point {y.zero_point}; "
                       "TFLM requires scale 1/256 and zero point -128 for int8 softmax")
    beta = float(op.options.get("beta", 1.0))
    if not (np.isfinite(beta) and beta > 0 and np.isfinite(float(np.float32(beta)) * x.scale)):
        return unsupported(reasons + [f"beta {beta} must be a positive finite number (a corrupt model)"])
    _, shift, _ = scaling(beta, x.scale)
    if not 0 <= shift <= 31:
        reasons.append(f"beta * input scale = {beta * x.scale:g} is too small for TFLM's int8 softmax scaling")
    if not x.shape or x.shape[-1] > MAX_DEPTH:
        reasons.append(f"softmax axis length {x.shape[-1] if x.shape else 0} is not in 1..{MAX_DEPTH}")
    if x.shape != y.shape:
        reasons.append(f"input shape {x.shape} and output shape {y.shape} differ")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x = graph.tensor(op.inputs[0])
    depth = x.shape[-1]
    return KernelCall(
        function="ta_softmax_s8",
        sources=("activation/ta_softmax_s8.c", "activation/ta_softmax_s8.h", "common/ta_fixedpoint.h"),
        params_type="ta_softmax_params",
        params=(("rows", x.num_elements // depth), ("depth", depth), ("exp_table", ConstRef("exp"))),
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])),
        constants=(ConstArray("exp", "int32_t", exp_table(float(op.options.get("beta", 1.0)), x.scale)),),
        in_place=True,
    )
