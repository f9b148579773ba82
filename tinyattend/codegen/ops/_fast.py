"""Generation-time preparation shared by the fast kernels (templates/kernels/fast).

The fast kernels fold the input offset into the bias, fill padding with the
input zero point, and use a short requantization when it is provably exact.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...ir.quant import multiply_by_quantized_multiplier
from ..cnames import ConstantOverflow
from ._requant_left import acc_bounds, left_channel

FAST_KERNEL_SETS = ("fast", "auto", "helium")     # helium: for the ops it has no MVE kernel for
ACC_LIMIT = 1 << 30     # ta_requantize_fast needs |acc| < 2^30 (SMMULR on 2*acc)


def wants_fast(target) -> bool:
    """`fast` always; `auto` unless --optimize size, which takes the portable kernels: no re-laid-out
    weight copies, per-channel constant arrays or scratch buffers, at several times the instructions."""
    if target.kernels == "auto" and target.optimize == "size":
        return False
    return target.kernels in FAST_KERNEL_SETS


def folded_bias(bias: np.ndarray | None, weights_rows: np.ndarray, input_zero_point: int) -> np.ndarray:
    """bias - zp * sum(w) per output channel (rows of weights_rows), as int64 for checking."""
    sums = weights_rows.astype(np.int64).sum(axis=1)
    base = np.zeros(weights_rows.shape[0], np.int64) if bias is None else bias.astype(np.int64)
    return base - int(input_zero_point) * sums


@dataclass(frozen=True)
class ChannelRequant:
    """A weighted op's per-channel constants in the form the fast kernels take."""
    fast: bool                 # the short requantization is exact for every channel
    bias: np.ndarray           # int32: bias - input_zero_point * sum(w)
    multiplier: np.ndarray     # int32
    shift: np.ndarray          # int32: the right shift (fast) or TFLite's signed shift (exact)
    round: np.ndarray          # int32: ta_requantize_fast's rounding constant (zeros when not fast)
    # scalable callers only (see _requant_left): the kernel accumulates scale * acc + offset, the
    # scale applied to the weights and to `bias`; 2 and 0 for the channels of the usual form
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None


def channel_requant(rows: np.ndarray, bias: np.ndarray | None, multipliers: np.ndarray, shifts: np.ndarray,
                    input_zero_point: int, output_zero_point: int, scalable: bool = False,
                    even_offset: bool = False) -> ChannelRequant:
    """Fold the input offset into the bias and choose the requantization form.

    Channels whose weights are all zero (pruned or dead channels: TFLite often gives them a
    bias near +-2^30 and a tiny scale) have a constant output, computed here with TFLM's
    arithmetic and produced by the fast form as round >> 1 with a zero multiplier, so they no
    longer force the whole layer onto the long requantization.

    Channels with TFLite shift >= 0 take the fast form too where _requant_left finds one:
    scalable: the caller can scale each channel's weights by a power of two up to 256 (int16
    taps) and applies the `scale` and `offset` returned; even_offset: every offset even (a kernel
    that doubles its accumulator takes scale / 2 and offset / 2). Otherwise (int8 weights, a
    kernel that doubles its accumulator) shift 0 channels only, their offset / 2 in `bias`."""
    rows = rows.astype(np.int64)
    base = np.zeros(rows.shape[0], np.int64) if bias is None else bias.astype(np.int64)
    folded = folded_bias(base, rows, input_zero_point)
    dead = ~rows.any(axis=1)
    constant = np.array([multiply_by_quantized_multiplier(int(b), int(m), int(s)) + output_zero_point
                         for b, m, s in zip(folded[dead], multipliers[dead], shifts[dead])], np.int64)
    live_mult = np.where(dead, 0, multipliers)
    live_shift = np.where(dead | (live_mult == 0), -1, shifts)
    live_bias = np.where(dead, 0, base)
    fast = fast_requant_ok(rows, live_bias, live_shift)
    exact = ChannelRequant(False, to_int32(folded, "folded bias"), multipliers.astype(np.int32),
                           shifts.astype(np.int32), np.zeros(len(shifts), np.int32))
    if not fast:
        left = _with_left_channels(rows, live_bias, folded, live_mult, live_shift, dead, constant,
                                   output_zero_point, even_offset or not scalable, 256 if scalable else 2)
        if left is None:
            return exact
        if scalable:
            return left
        try:        # scale 2 everywhere: the kernel's own doubling; the offset goes into the bias
            return replace(left, bias=to_int32(left.bias.astype(np.int64) + left.offset // 2, "offset bias"),
                           scale=None, offset=None)
        except ConstantOverflow:
            return exact
    try:
        rounding = round_constants(live_shift, output_zero_point, True).astype(np.int64)
        if not rounded_sum_fits(rows, live_bias, live_mult, rounding):
            return exact
        rounding[dead] = 2 * np.clip(constant, -(1 << 29), 1 << 29)     # (0 + round) >> 1 == constant
        ones = np.ones(len(shifts), np.int64)
        return ChannelRequant(True, to_int32(np.where(dead, 0, folded), "folded bias"), live_mult.astype(np.int32),
                              (-live_shift).astype(np.int32), to_int32(rounding, "rounding constant"),
                              2 * ones if scalable else None, 0 * ones if scalable else None)
    except ConstantOverflow:      # output offset x 2^shift beyond int32 (absurd scales): the exact form
        return exact


def _with_left_channels(rows, live_bias, folded, live_mult, live_shift, dead, constant,
                        output_zero_point, even_offset, max_scale) -> ChannelRequant | None:
    """The fast form with each channel's own scale: the usual one (2, offset 0) where it is exact,
    the shift >= 0 form of _requant_left elsewhere; None when some channel has neither."""
    count = len(live_shift)
    scale, offset = np.full(count, 2, np.int64), np.zeros(count, np.int64)
    rounding, right = np.zeros(count, np.int64), np.zeros(count, np.int64)
    low, high = acc_bounds(rows, np.where(dead, 0, folded))
    for c in range(count):
        if fast_requant_ok(rows[c:c + 1], live_bias[c:c + 1], live_shift[c:c + 1]):
            right[c] = -live_shift[c]
            rounding[c] = (1 << (right[c] - 1)) + output_zero_point * (1 << right[c])
            if not rounded_sum_fits(rows[c:c + 1], live_bias[c:c + 1], live_mult[c:c + 1], rounding[c:c + 1]):
                return None
            continue
        form = left_channel(int(low[c]), int(high[c]), int(np.abs(rows[c]).max(initial=0)), int(live_mult[c]),
                            int(live_shift[c]), output_zero_point, even_offset, max_scale)
        if form is None:
            return None
        scale[c], offset[c], rounding[c], right[c] = form
    rounding[dead] = 2 * np.clip(constant, -(1 << 29), 1 << 29)     # as in channel_requant
    try:
        return ChannelRequant(True, to_int32(np.where(dead, 0, folded), "folded bias"), live_mult.astype(np.int32),
                              right.astype(np.int32), to_int32(rounding, "rounding constant"), scale, offset)
    except ConstantOverflow:
        return None


def fast_requant_ok(weights_rows: np.ndarray, bias: np.ndarray | None, shifts: np.ndarray) -> bool:
    """True when every channel's accumulator stays below 2^30 for any int8 input and every
    multiplier needs a right shift of 1..31: then ta_requantize_fast equals TFLM's."""
    if np.any(shifts > -1) or np.any(shifts < -31):
        return False
    worst = np.abs(weights_rows.astype(np.int64)).sum(axis=1) * 255
    if bias is not None:
        worst = worst + np.abs(bias.astype(np.int64))
    return bool(np.all(worst < ACC_LIMIT))


def rounded_sum_fits(weights_rows: np.ndarray, bias: np.ndarray, multipliers: np.ndarray,
                     rounding: np.ndarray) -> bool:
    """Whether SMMLAR's sum, round + ((2 * acc * m + 2^31) >> 32) (+ the sign correction), stays inside
    int32 for every accumulator the channel can form: with a right shift near 24 and an output zero
    point near -128, round is near -2^31 and a large negative accumulator would wrap it."""
    worst = np.abs(weights_rows.astype(np.int64)).sum(axis=1) * 255 + np.abs(bias.astype(np.int64))
    product = (2 * worst * np.abs(multipliers.astype(np.int64)) + (1 << 31)) >> 32
    return bool(np.all(np.abs(rounding.astype(np.int64)) + product + 1 < (1 << 31)))


def round_constants(shifts: np.ndarray, output_offset: int, fast: bool) -> np.ndarray:
    """Per channel 2^(e-1) + output_offset * 2^e (e = -shift), for ta_requantize_fast."""
    if not fast:
        return np.zeros(len(shifts), np.int32)
    right = (-shifts).astype(np.int64)
    values = (np.int64(1) << (right - 1)) + np.int64(output_offset) * (np.int64(1) << right)
    return to_int32(values, "rounding constant")


def splittable(rows: np.ndarray) -> bool:
    """Whether [out][k] int8 weights can take the split form of the fast conv and FC kernels
    (bytes e0 + 128, -e1, e2 + 128, -e3 per four): every odd weight's negation fits int8."""
    return not (rows[:, 1::2] == -128).any()


def split_bytes(rows: np.ndarray) -> np.ndarray:
    """[out][k] weights (k a multiple of 4) in the split form, as int8 bytes."""
    split = rows.astype(np.int16)
    split[:, 0::2] += 128
    split[:, 1::2] *= -1
    return split.astype(np.uint8).view(np.int8)


def split_bias(bias: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The bias the split form needs: 129 * (sum of each row's odd weights) lower, as int32."""
    return to_int32(bias.astype(np.int64) - 129 * rows[:, 1::2].astype(np.int64).sum(axis=1), "split bias")


def to_int32(values: np.ndarray, what: str) -> np.ndarray:
    if values.min(initial=0) < -(1 << 31) or values.max(initial=0) >= (1 << 31):
        raise ConstantOverflow(f"{what} does not fit int32")
    return values.astype(np.int32)


def pair_rows(rows: np.ndarray) -> np.ndarray:
    """Interleave output channels pairwise, four values at a time: for channels (2k, 2k+1)
    and each group g of four, [row(2k)[4g:4g+4], row(2k+1)[4g:4g+4]]. An odd last channel
    is paired with itself. rows: [out_c][row_len], row_len a multiple of 4."""
    out_c, row_len = rows.shape
    if out_c % 2:
        rows = np.concatenate([rows, rows[-1:]], axis=0)
    grouped = rows.reshape(-1, 2, row_len // 4, 4)           # [pair][which][group][4]
    return np.ascontiguousarray(grouped.transpose(0, 2, 1, 3)).reshape(-1)


def fits_u16(*values: int) -> bool:
    """Whether every value fits a uint16_t parameter field (the fast kernels' 16-bit structs)."""
    return all(0 <= int(v) <= 0xFFFF for v in values)
