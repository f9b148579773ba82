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


def quad_blocks(rows: np.ndarray, row_len: int) -> np.ndarray:
    """[out][k] int8 weights as [group of 4 rows][row_len / 16][4][16] (zero rows and columns pad): what
    the 2 x 4 conv tile and the FC kernel read, one VLDRB.8 per row and block."""
    out_depth, depth = rows.shape
    padded = np.zeros((-(-out_depth // 4) * 4, row_len), np.int8)
    padded[:out_depth, :depth] = rows
    quads = padded.reshape(-1, 4, row_len // 16, 16)
    return np.ascontiguousarray(quads.transpose(0, 2, 1, 3)).reshape(-1)


def quad_table(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """lane_table for output channels taken four at a time (zeros pad the last group)."""
    lanes = -(-len(bias) // 4) * 4
    return lane_table(pad_to(bias, lanes), pad_to(mult, lanes), pad_to(shift, lanes))
