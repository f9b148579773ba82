"""ADD: int8 with broadcasting (up to 4 dimensions), TFLM's 20-bit headroom rescaling."""
from __future__ import annotations

import numpy as np

from ...ir.quant import activation_range, multiply_by_quantized_multiplier, quantize_multiplier
from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg
from ._broadcast import MAX_RANK, arithmetic_reasons, broadcast_fields, is_broadcast  # noqa: F401 - MAX_RANK
from ._fast import ACC_LIMIT, round_constants, wants_fast

OP_TYPES = ("ADD",)
LEFT_SHIFT = 20


def check(op, graph, target) -> list[str]:
    return arithmetic_reasons(op, graph)


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
    if wants_fast(target):
        return _lower_fast(op, graph, (m1, s1, m2, s2, mo, so), act_min, act_max)
    return KernelCall(
        function="ta_add_s8",
        sources=("elementwise/ta_add_s8.c", "elementwise/ta_add_s8.h", "elementwise/ta_broadcast.h"),
        params_type="ta_add_params",
        params=(
            *broadcast_fields(x1, x2, y),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point), ("output_offset", y.zero_point),
            ("left_shift", LEFT_SHIFT),
            ("input1_multiplier", m1), ("input1_shift", s1), ("input2_multiplier", m2), ("input2_shift", s2),
            ("output_multiplier", mo), ("output_shift", so),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0], const=graph.tensor(op.inputs[0]).is_constant),
              TensorArg(op.inputs[1], const=graph.tensor(op.inputs[1]).is_constant), TensorArg(op.outputs[0])),
        in_place=not is_broadcast(x1, x2, y),
    )


def rescale_table(zero_point: int, multiplier: int, shift: int) -> np.ndarray:
    """TFLM's per-input step of ADD for every int8 value v (index v + 128):
    MultiplyByQuantizedMultiplierSmallerThanOneExp((v - zero_point) << 20, m, shift)."""
    return np.array([multiply_by_quantized_multiplier((v - zero_point) * (1 << LEFT_SHIFT), multiplier, shift)
                     for v in range(-128, 128)], dtype=np.int64)


def _tflm_output(sums: np.ndarray, multiplier: int, shift: int, zero_point: int, act_min: int, act_max: int):
    """TFLM's output stage of ADD (MultiplyByQuantizedMultiplierSmallerThanOneExp, offset, clamp) on int64 arrays."""
    product = sums * multiplier                                     # |sums| < 2^31, multiplier < 2^31
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))       # C division truncates toward zero
    right = -shift
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    out = (high >> right) + ((high & mask) > threshold) + zero_point
    return np.clip(out, act_min, act_max)


def _fast_output(sums2: np.ndarray, multiplier: int, right: int, rounding: int, sign_fix: bool,
                 act_min: int, act_max: int):
    """ta_add_s8_fast's short form: SMMLAR(2 * sum, m, round) (+ sign of the sum) >> right, saturate, clamp."""
    x = ((sums2 * multiplier + (1 << 31)) >> 32) + rounding
    if sign_fix:
        x = x + (sums2 >> 31)
    return np.clip(np.clip(x >> right, -128, 127), act_min, act_max)


def _lower_fast(op, graph, quant, act_min, act_max) -> KernelCall:
    """Two 256-entry tables and one requantization (templates/kernels/fast/ta_add_s8_fast.c).

    The output depends only on the pair of int8 inputs, so the short requantization is checked
    here on all 65536 pairs against TFLM's: it is used only when it is exact for every pair, and
    the sign correction of the rounding is left out when no pair needs it."""
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2, mo, so = quant
    t1, t2 = rescale_table(x1.zero_point, m1, s1), rescale_table(x2.zero_point, m2, s2)
    worst_sum = int(np.abs(t1).max() + np.abs(t2).max())
    fast = -31 <= so <= -1 and worst_sum < ACC_LIMIT
    sign_fix = True
    if fast:
        sums = (t1[:, None] + t2[None, :]).ravel()
        want = _tflm_output(sums, mo, so, y.zero_point, act_min, act_max)
        rounding = int(round_constants(np.array([so]), y.zero_point, True)[0])
        if np.array_equal(_fast_output(2 * sums, mo, -so, rounding, False, act_min, act_max), want):
            sign_fix = False
        else:
            fast = np.array_equal(_fast_output(2 * sums, mo, -so, rounding, True, act_min, act_max), want)
    scale = 2 if fast else 1                     # the fast form takes the doubled sum
    shifts = np.array([so])
    return KernelCall(
        function="ta_add_s8_fast",
        sources=("fast/ta_add_s8_fast.c", "fast/ta_add_s8_fast.h", "fast/ta_dsp.h", "elementwise/ta_broadcast.h"),
        params_type="ta_add_fast_params",
        params=(
            *broadcast_fields(x1, x2, y),
            ("table1", ConstRef("table1")), ("table2", ConstRef("table2")),
            ("output_multiplier", mo), ("output_shift", -so if fast else so),
            ("output_round", int(round_constants(shifts, y.zero_point, fast)[0])),
            ("output_offset", y.zero_point), ("fast_requant", int(fast)), ("sign_fix", int(sign_fix)),
            ("full_range", int(act_min == -128 and act_max == 127)),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
        constants=(ConstArray("table1", "int32_t", (scale * t1).astype(np.int32)),
                   ConstArray("table2", "int32_t", (scale * t2).astype(np.int32))),
        in_place=not is_broadcast(x1, x2, y),
    )
