"""Generation-time preparation shared by the fast kernels (templates/kernels/fast).

The fast kernels fold the input offset into the bias, fill padding with the
input zero point, and use a short requantization when it is provably exact.
"""
from __future__ import annotations

import numpy as np

FAST_KERNEL_SETS = ("fast", "auto")
ACC_LIMIT = 1 << 30     # ta_requantize_fast needs |acc| < 2^30 (SMMULR on 2*acc)


def wants_fast(target) -> bool:
    return target.kernels in FAST_KERNEL_SETS


def folded_bias(bias: np.ndarray | None, weights_rows: np.ndarray, input_zero_point: int) -> np.ndarray:
    """bias - zp * sum(w) per output channel (rows of weights_rows), as int64 for checking."""
    sums = weights_rows.astype(np.int64).sum(axis=1)
    base = np.zeros(weights_rows.shape[0], np.int64) if bias is None else bias.astype(np.int64)
    return base - int(input_zero_point) * sums


def fast_requant_ok(weights_rows: np.ndarray, bias: np.ndarray | None, shifts: np.ndarray) -> bool:
    """True when every channel's accumulator stays below 2^30 for any int8 input and every
    multiplier needs a right shift of 1..31: then ta_requantize_fast equals TFLM's."""
    if np.any(shifts > -1) or np.any(shifts < -31):
        return False
    worst = np.abs(weights_rows.astype(np.int64)).sum(axis=1) * 255
    if bias is not None:
        worst = worst + np.abs(bias.astype(np.int64))
    return bool(np.all(worst < ACC_LIMIT))


def round_constants(shifts: np.ndarray, output_offset: int, fast: bool) -> np.ndarray:
    """Per channel 2^(e-1) + output_offset * 2^e (e = -shift), for ta_requantize_fast."""
    if not fast:
        return np.zeros(len(shifts), np.int32)
    right = (-shifts).astype(np.int64)
    values = (np.int64(1) << (right - 1)) + np.int64(output_offset) * (np.int64(1) << right)
    return to_int32(values, "rounding constant")


def kernel_shifts(shifts: np.ndarray, fast: bool) -> np.ndarray:
    """The fast requantization takes the right shift; the exact one TFLite's signed shift."""
    return (-shifts).astype(np.int32) if fast else shifts.astype(np.int32)


def to_int32(values: np.ndarray, what: str) -> np.ndarray:
    if values.min(initial=0) < -(1 << 31) or values.max(initial=0) >= (1 << 31):
        raise ValueError(f"{what} does not fit int32")
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
