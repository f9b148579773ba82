"""Generation-time constants of the Helium kernels (templates/kernels/mve/common/ta_mve.h).

Requantization goes four lanes at a time; each group of four lanes has 16 int32: the lanes'
bias (the input offset folded in: bias - input_zero_point * sum(w)), multiplier, left shift
(>= 0) and minus the right shift (<= 0), TFLite's signed shift split in two so the kernel
applies VSHL, VQRDMULH and VRSHL without deciding per lane.
"""
from __future__ import annotations

import numpy as np

from ..cnames import ConstantOverflow
from ..ops._fast import folded_bias, to_int32

SOURCES_COMMON = ("mve/common/ta_mve.h",)


def lane_table(bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """[groups][16] int32 from per-lane arrays whose length is a multiple of 4 (bias int64 checked)."""
    lanes = len(bias)
    assert lanes % 4 == 0, lanes
    shift = shift.astype(np.int64)
    rows = np.stack([to_int32(bias.astype(np.int64), "folded bias"), multiplier.astype(np.int32),
                     np.maximum(shift, 0).astype(np.int32), np.minimum(shift, 0).astype(np.int32)])   # [4][lanes]
    return np.ascontiguousarray(rows.reshape(4, -1, 4).transpose(1, 0, 2)).reshape(-1)


def channel_bias(rows: np.ndarray, bias_tensor, graph, input_zero_point: int) -> np.ndarray:
    """bias - zp * sum(w) per output channel (rows: [out_c][k] weights), int64."""
    bias = graph.tensor(bias_tensor).array().astype(np.int64) if bias_tensor is not None else None
    return folded_bias(bias, rows, input_zero_point)


def fits_int32(values: np.ndarray) -> bool:
    try:
        to_int32(values, "folded bias")
    except ConstantOverflow:
        return False
    return True


def pad_to(values: np.ndarray, length: int) -> np.ndarray:
    """values along the first axis, zero-padded (or repeated for none) to `length`."""
    out = np.zeros((length, *values.shape[1:]), values.dtype)
    out[:len(values)] = values
    return out
