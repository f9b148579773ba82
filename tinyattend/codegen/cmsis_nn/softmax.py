"""SOFTMAX -> arm_softmax_s8 over the last axis (int8 in, int8 out with scale 1/256, zero point -128)."""
from __future__ import annotations

import math

import numpy as np

from ...ir.quant import quantize_multiplier
from ..lowering import KernelCall, TensorArg, unsupported
from ..ops._checks import int8_activations
from ._structs import HEADERS, LIBRARY, name

OP_TYPES = ("SOFTMAX",)
SCALED_DIFF_INTEGER_BITS = 5      # TFLM's kScaledDiffIntegerBits


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph)]
    if not reasons[0]:
        y = graph.tensor(op.outputs[0])
        if y.zero_point != -128 or np.float32(y.scale) != np.float32(1.0 / 256):
            reasons.append(f"output quantization is scale {y.scale}, zero point {y.zero_point}; "
                           "TFLM's int8 softmax needs 1/256 and -128")
    return unsupported(reasons)


def softmax_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """TFLM's SoftmaxPrepare for int8: PreprocessSoftmaxScaling and CalculateInputRadius (double rounding)."""
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)),
               (1 << 31) - 1.0)
    multiplier, shift = quantize_multiplier(real)
    radius = math.floor(((1 << SCALED_DIFF_INTEGER_BITS) - 1) * (1 << (31 - SCALED_DIFF_INTEGER_BITS))
                        / (1 << shift))
    return multiplier, shift, -radius


def lower(op, graph, target) -> KernelCall:
    x = graph.tensor(op.inputs[0])
    row_size = x.shape[-1] if x.shape else 1
    rows = x.num_elements // row_size
    multiplier, shift, diff_min = softmax_params(x.scale, op.options.get("beta", 1.0))
    wrapper = name(op, "softmax")
    # arm_softmax_s8 returns nothing; the wrapper gives it ta_invoke's status convention.
    declaration = (
        f"static int {wrapper}(const int8_t *input, int8_t *output) {{\n"
        f"    arm_softmax_s8(input, {rows}, {row_size}, {multiplier}, {shift}, {diff_min}, output);\n"
        f"    return TA_OK;\n"
        f"}}")
    return KernelCall(function=wrapper, sources=(), params_type=None, params=(),
                      args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
                      declarations=(declaration,), headers=HEADERS, library=LIBRARY,
                      macs=x.num_elements)
