"""MUL: int8 with broadcasting (up to 4 dimensions), one rescale by s1*s2/so as TFLM does.

The fast kernel set takes same-shape inputs and constant broadcasts (a scalar, a per-channel
vector: laid out as a short second input that repeats) with a short requantization checked on
every input pair; anything else, and any multiplier it cannot take, goes to the portable kernel."""
from __future__ import annotations

import numpy as np

from ...ir.quant import activation_range, quantize_multiplier
from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg, shape4
from ._broadcast import MAX_RANK, arithmetic_reasons, broadcast_fields, is_broadcast  # noqa: F401 - MAX_RANK
from ._fast import wants_fast

OP_TYPES = ("MUL",)
MAX_PERIOD_BYTES = 512      # the longest repeating copy of a constant broadcast input the fast form lays out


def check(op, graph, target) -> list[str]:
    return arithmetic_reasons(op, graph)


def mul_multiplier(x1, x2, y) -> tuple[int, int]:
    """TFLM's CalculateOpDataMul: float32 scales, product and quotient in double."""
    return quantize_multiplier(float(x1.scale) * float(x2.scale) / float(y.scale))


def _pair_products(zero_point1: int, zero_point2: int) -> np.ndarray:
    """(a - zp1) * (b - zp2) for all 65536 int8 pairs, int64."""
    values = np.arange(-128, 128, dtype=np.int64)
    return ((values - zero_point1)[:, None] * (values - zero_point2)[None, :]).ravel()


def tflm_mul_output(products: np.ndarray, multiplier: int, shift: int, zero_point: int, act_min: int,
                    act_max: int) -> np.ndarray:
    """TFLM's MUL output stage on int64 products: MultiplyByQuantizedMultiplier (shift <= 0), offset, clamp."""
    ab = products * multiplier                                      # |product| < 2^17: no saturation case
    total = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))      # C division truncates toward zero
    right = -shift
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return np.clip((high >> right) + ((high & mask) > threshold) + zero_point, act_min, act_max)


def fast_mul_output(products: np.ndarray, multiplier: int, right: int, rounding: int, act_min: int,
                    act_max: int) -> np.ndarray:
    """ta_mul_s8_fast's arithmetic: SSAT8(SMMLAR(2p, m, round + (p >> 31)) >> right), then the range."""
    x = ((2 * products * multiplier + (1 << 31)) >> 32) + rounding + (products >> 63)
    return np.clip(np.clip(x >> right, -128, 127), act_min, act_max)


def fast_rounding(shift: int, zero_point: int) -> int | None:
    """2^(e-1) + zero_point * 2^e for the right shift e = -shift, or None when it does not fit int32."""
    right = -shift
    value = (1 << (right - 1)) + zero_point * (1 << right)
    return value if -(1 << 31) <= value < (1 << 31) else None


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    mult, shift = mul_multiplier(x1, x2, y)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
    if wants_fast(target):
        fast = _lower_fast(op, graph, mult, shift, act_min, act_max)
        if fast is not None:
            return fast
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


def broadcast_period(values: np.ndarray) -> int:
    """The shortest p dividing len(values) such that values is values[:p] repeated."""
    size = len(values)
    for period in range(1, size + 1):
        if size % period == 0 and (values.reshape(-1, period) == values[:period]).all():
            return period
    return size


def run_length(period: int, size: int) -> int:
    """A multiple of `period` dividing `size` for the kernel's runs: a whole number of its eight-element
    steps and at least 64 elements when one of at most MAX_PERIOD_BYTES does that, else the longest."""
    lengths = [m for m in range(period, min(size, max(period, MAX_PERIOD_BYTES)) + 1, period) if size % m == 0]
    good = [m for m in lengths if m % 8 == 0 and m >= 64]
    return good[0] if good else max(lengths, key=lambda m: (m % 8 == 0, m))


def fast_operands(op, graph):
    """(input 1's index, input 2: a tensor index or a repeating constant, period) for the fast kernel,
    or None. Same shapes: the inputs as they are. Otherwise one input must have the output's shape and
    the other be a constant: its broadcast along the output, cut to one run (input 2; MUL commutes)."""
    x1, x2, y = (graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if not is_broadcast(x1, x2, y):
        return op.inputs[0], op.inputs[1], max(y.num_elements, 1)
    for full, small in ((x1, x2), (x2, x1)):
        if shape4(full.shape) == shape4(y.shape) and small.is_constant:
            values = np.broadcast_to(small.array().reshape(shape4(small.shape)), shape4(y.shape)).ravel()
            period = run_length(broadcast_period(values), y.num_elements)
            if period <= max(MAX_PERIOD_BYTES, small.num_elements):
                return full.index, values[:period].astype(np.int8), period
    return None


def _lower_fast(op, graph, mult, shift, act_min, act_max) -> KernelCall | None:
    """templates/kernels/fast/ta_mul_s8_fast.c, or None when its short requantization is not TFLM's
    or the broadcast is not one it takes (see fast_operands). The requantization needs a right shift
    of 1..31 (the entry point ta_mul_s8_fast_shift<e> takes it as an immediate) and is checked here
    on all 65536 input pairs (|product| <= 255 * 255 < 2^30 makes it exact; the check keeps that a
    fact of this op rather than an argument)."""
    y = graph.tensor(op.outputs[0])
    operands = fast_operands(op, graph)
    if operands is None or not (-31 <= shift <= -1 and mult > 0):
        return None
    rounding = fast_rounding(shift, y.zero_point)
    if rounding is None:
        return None
    first, second, period = operands
    x1 = graph.tensor(first)
    x2 = graph.tensor(op.inputs[1] if first == op.inputs[0] else op.inputs[0])
    products = _pair_products(x1.zero_point, x2.zero_point)
    want = tflm_mul_output(products, mult, shift, y.zero_point, act_min, act_max)
    if not np.array_equal(fast_mul_output(products, mult, -shift, rounding, act_min, act_max), want):
        return None
    repeated = isinstance(second, np.ndarray)
    return KernelCall(
        function=f"ta_mul_s8_fast_shift{-shift}",
        sources=("fast/ta_mul_s8_fast.c", "fast/ta_mul_s8_fast.h", "fast/ta_dsp.h"),
        params_type="ta_mul_fast_params",
        params=(
            ("size", y.num_elements), ("input2_period", period),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point),
            ("output_multiplier", mult), ("output_round", rounding),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(first, const=True), ConstRef("input2") if repeated else TensorArg(second, const=True),
              TensorArg(op.outputs[0])),
        constants=(ConstArray("input2", "int8_t", second),) if repeated else (),
        in_place=True,
        macs=y.num_elements,
    )
