"""The fast requantization for channels whose TFLite shift is >= 0 (effective scale >= 0.5).

The fast kernels requantize a non-negative-or-not accumulator A (a scaled acc) as
    x = (SMMLAR(A, m, round) + (A >> 31)) >> e
which is TFLM's RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc, m), e) when
A = 2 * acc and e >= 1. With TFLite shift L >= 0, TFLM computes no rounding division:
    y = SRDHM(acc * 2^L, m) = floor((acc * 2^L * m + 2^30) / 2^31)
(the nudge 1 - 2^30 for negative products and the truncating division give the same floor).
The same kernel formula produces it exactly, without a kernel change, when the generator
  - scales the channel's weights and folded bias by S = 2^(L + 1 + r) (r >= 0 a right shift),
  - adds an offset K so that A = S * acc + K is never negative (the sign term is then 0), and
  - picks K with (K * m + 2^31 * (1 - 2^r)) mod 2^32 < G, and round to cancel the rest:
then 2^(32 + r) * (y + offset) <= round * 2^32 + A * m + 2^31 < 2^(32 + r) * (y + offset + 1)
for every acc in the channel's range, G being the least distance from Q = S * acc * m + 2^(31 + r)
up to the next multiple of 2^(32 + r) over that range (Q is a multiple of S, so G >= S always;
multipliers near simple fractions, such as 0.6 * 2^31, leave far more room and need it).
This needs per-channel weights the generator may scale (the depthwise kernel's int16 taps).
"""
from __future__ import annotations

import numpy as np

SCAN_LIMIT = 1 << 22       # accumulator ranges measured value by value up to this size (else G = S)
TARGETS = 4096             # remainders tried per right shift
LIMIT = 1 << 31           # A = S * acc + K must stay in [0, 2^31): SMMLAR's int32 operand, sign term 0
MAX_WEIGHT_SCALE = 256    # int8 taps times S must fit int16: -128 * 256 = -32768


def acc_bounds(rows: np.ndarray, folded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel the least and greatest acc = folded + sum(w * x) over int8 inputs x."""
    rows = rows.astype(np.int64)
    low = np.where(rows > 0, -128 * rows, 127 * rows).sum(axis=1)
    high = np.where(rows > 0, 127 * rows, -128 * rows).sum(axis=1)
    return folded + low, folded + high


def left_channel(low: int, high: int, max_abs_weight: int, multiplier: int, shift: int,
                 output_zero_point: int, even_offset: bool = False,
                 max_scale: int = MAX_WEIGHT_SCALE) -> tuple[int, int, int, int] | None:
    """(S, K, round, right) for one channel with shift >= 0 and acc in [low, high], or None when
    no exact form fits int32 and the int16 taps. The kernel's accumulator is A = S * acc + K.
    even_offset: K must be even (kernels that form A as 2 * their accumulator: S/2 * acc + K/2).
    max_scale: 2 for weights that cannot be scaled (int8): then only shift 0 has a form, K / 2
    added to the bias and no right shift."""
    if shift < 0 or multiplier <= 0:
        return None
    headroom = _headroom(low, high, multiplier, shift)
    for right in range(0, 8):
        scale = 1 << (shift + 1 + right)
        if scale > max_scale or scale * max_abs_weight > 32768:
            return None
        k_low, k_high = -scale * low, LIMIT - 1 - scale * high      # A in [0, 2^31) for every acc
        if k_low > k_high:
            return None
        unit = 2 if even_offset else 1                                # K = unit * K'
        k = _offset(unit * multiplier, right, (1 << (1 + right)) * headroom, -(-k_low // unit), k_high // unit)
        k = None if k is None else unit * k
        if k is None:
            continue
        total = k * multiplier + (1 << 31) - (1 << (31 + right))
        rounding = -(total >> 32) + output_zero_point * (1 << right)
        if _fits(rounding, low, high, scale, k, multiplier):
            return scale, k, rounding, right
    return None


def _headroom(low: int, high: int, multiplier: int, shift: int) -> int:
    """G / 2^(1 + r): Q mod 2^(32 + r) = 2^(1 + r) * P with P = (acc * 2^shift * m + 2^30) mod 2^31,
    so this is 2^31 - max P over the range (at least 2^shift: P is a multiple of it)."""
    if high - low >= SCAN_LIMIT:
        return 1 << shift
    acc = np.arange(low, high + 1, dtype=np.int64)
    p = (((acc << shift) % (1 << 31)) * multiplier + (1 << 30)) % (1 << 31)     # int64: below 2^62
    return max(1 << shift, (1 << 31) - int(p.max()))


def _offset(multiplier: int, right: int, room: int, k_low: int, k_high: int) -> int | None:
    """The least K in [k_low, k_high] with (K * multiplier + 2^31 * (1 - 2^right)) mod 2^32 < room,
    among TARGETS remainders spread over [0, room) (every one when room is small). multiplier:
    m, or 2 * m for an even offset (then K here is half of it)."""
    twos = (multiplier & -multiplier).bit_length() - 1            # m = odd * 2^twos
    odd, period = multiplier >> twos, 1 << (32 - twos)
    inverse = pow(odd, -1, period)
    base = ((1 << (31 + right)) - (1 << 31)) % (1 << 32)
    best = None
    step = -(-max(1, room // TARGETS) >> twos) << twos                # remainders must be multiples of 2^twos
    for target in range(0, room, step):                           # the remainder we aim for
        residue = (base + target) % (1 << 32)
        if residue % (1 << twos):
            continue
        k0 = (residue >> twos) * inverse % period                  # K * odd == residue / 2^twos (mod period)
        k = k_low + (k0 - k_low) % period
        if k <= k_high and (best is None or k < best):
            best = k
    return best


def _fits(rounding: int, low: int, high: int, scale: int, k: int, multiplier: int) -> bool:
    """round and SMMLAR's result (round + the high word) stay int32 for every accumulator."""
    if not -(1 << 31) <= rounding < (1 << 31):
        return False
    ends = [rounding + ((scale * acc + k) * multiplier + (1 << 31)) // (1 << 32) for acc in (low, high)]
    return all(-(1 << 31) <= v < (1 << 31) for v in ends)
