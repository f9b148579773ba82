"""CONV_2D 3x3 stride 1 by Winograd F(2x2, 3x3) (templates/kernels/fast/winograd/): which layers
can take it, their transformed weights, and the lowering.

Exactness: with G' = 2G the transformed filter U = G' g G'^T is an integer matrix (|U| <= 9 * 128,
int16) and A^T [U . (B^T d B)] A = 4 * (the correlation of d with g) exactly; the kernel sums
U . V over the input channels in int32, which `fits_int32` proves cannot overflow for the layer's
real weights. The result is the same accumulator the direct kernels form, requantized the same way.
"""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims
from ._fast import channel_requant, to_int32

# F(2x2, 3x3) with G scaled by 2 (integers only); positions of the 4x4 transformed tile are 4 * row + column.
G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64)
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.int64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.int64)
POSITIONS = 16
TILES = 3                       # tiles per group in the kernel (WINO_TILES)
V_LIMIT = 4 * 128               # |B^T d B| for int8 d
SUM_TERMS = 9                   # M values summed (with signs) into one output by A^T M A
CHANNEL_MULTIPLE = 8            # the kernel's steps take four input channels, two per 64-bit load pair


def eligible(op, graph) -> bool:
    """A 3x3, stride 1, undilated, ungrouped CONV_2D with input channels a multiple of 8 whose
    sums provably fit int32 (the caller has already checked the fast conv's own conditions)."""
    x, w = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    o = op.options
    out_c, fh, fw, depth = w.shape
    return (fh == 3 and fw == 3 and o["stride_h"] == 1 and o["stride_w"] == 1
            and o["dilation_h_factor"] == 1 and o["dilation_w_factor"] == 1
            and depth == x.shape[3] and depth % CHANNEL_MULTIPLE == 0 and fits_int32(w.array()))


def transformed(weights: np.ndarray) -> np.ndarray:
    """[out_c][3][3][in_c] int8 -> U [out_c][16][in_c] int64 (G' g G'^T per channel pair)."""
    u = np.einsum("ia,kabc,jb->kijc", G2, weights.astype(np.int64), G2)
    return u.reshape(weights.shape[0], POSITIONS, weights.shape[3])


def fits_int32(weights: np.ndarray) -> bool:
    """Every partial sum the kernel forms stays inside int32: each position's sum over the input
    channels is at most V_LIMIT * sum_c |U|, and an output adds SUM_TERMS of them."""
    per_position = np.abs(transformed(weights)).sum(axis=2).max(axis=1)       # [out_c]
    return bool(np.all(SUM_TERMS * V_LIMIT * per_position < (1 << 31)))


def weight_bytes(op, graph) -> int:
    """Flash the transformed weights take (int16), besides the per-pair constants."""
    w = graph.tensor(op.inputs[1])
    out_c = w.shape[0] + w.shape[0] % 2
    return out_c * POSITIONS * w.shape[3] * 2


def pair_stream(u: np.ndarray, q) -> np.ndarray:
    """What the kernel reads per output channel pair (an odd last channel paired with itself), as
    bytes: [16 positions][in_c / 4][2 channels][4] int16 in SXTB16 lane order (c0 c2 c1 c3), then
    int32 bias0 bias1 mult0 mult1 round0 round1 right0 right1 (the bias doubled: the kernel forms
    2 * acc) or, for TFLM's requantization, bias0 bias1 mult0 mult1 shift0 shift1 0 0."""
    out_c, positions, depth = u.shape
    if out_c % 2:
        u = np.concatenate([u, u[-1:]], axis=0)
    pairs = u.reshape(-1, 2, positions, depth // 4, 4)[..., [0, 2, 1, 3]]       # [pair][ch][pos][group][4]
    weights = pairs.transpose(0, 2, 3, 1, 4).astype("<i2").reshape(pairs.shape[0], -1).view(np.int8)
    if q.fast:
        table = [2 * q.bias.astype(np.int64), q.multiplier, q.round, q.shift]
    else:
        table = [q.bias, q.multiplier, q.shift, np.zeros_like(q.shift)]
    table = np.stack([to_int32(np.asarray(t, np.int64), "pair constant") for t in table])   # [4][out_c]
    if out_c % 2:
        table = np.concatenate([table, table[:, -1:]], axis=1)
    tail = table.reshape(4, -1, 2).transpose(1, 0, 2).reshape(-1, 8).astype("<i4").view(np.int8)
    return np.ascontiguousarray(np.concatenate([weights, tail], axis=1)).reshape(-1)


def overlap_lead(x_shape, y_shape, pad_top: int, pad_left: int) -> int:
    """The least D such that the output may start D bytes below the input (see ops/_overlap.py):
    the kernel reads a whole group of three tiles (raster order, the last group repeating its last
    tile) before writing any of its outputs, so every byte written by groups up to g must lie below
    every byte read by the groups after g."""
    n, in_h, in_w, in_c = x_shape
    _, out_h, out_w, out_c = y_shape
    tiles_w = (out_w + 1) // 2
    tiles = (out_h + 1) // 2 * tiles_w
    written, lowest = [], []
    for b in range(n):
        for t0 in range(0, tiles, TILES):
            high, low = 0, None
            for tile in range(t0, min(t0 + TILES, tiles)):
                ty, tx = divmod(tile, tiles_w)
                y_end, x_end = min(2 * ty + 1, out_h - 1), min(2 * tx + 1, out_w - 1)
                high = max(high, ((b * out_h + y_end) * out_w + x_end + 1) * out_c)
                y0, x0 = 2 * ty - pad_top, 2 * tx - pad_left
                if y0 + 3 >= 0 and x0 + 3 >= 0 and y0 < in_h and x0 < in_w:
                    first = ((b * in_h + max(y0, 0)) * in_w + max(x0, 0)) * in_c
                    low = first if low is None else min(low, first)
            written.append(high)
            lowest.append(low)
    lead, high, low_after = None, 0, [None] * len(lowest)
    for g in range(len(lowest) - 2, -1, -1):
        following = [v for v in (lowest[g + 1], low_after[g + 1]) if v is not None]
        low_after[g] = min(following) if following else None
    for g, written_g in enumerate(written):
        high = max(high, written_g)
        if low_after[g] is not None:
            lead = high - low_after[g] if lead is None else max(lead, high - low_after[g])
    return 0 if lead is None else lead


def path(fast: bool, act_min: int, act_max: int) -> str:
    """The kernel path (TA_PATH_* in the kernel) a layer takes: TFLM's requantization, or the fast
    one with or without a clamp narrower than int8's range."""
    if not fast:
        return "TA_PATH_WINOGRAD_EXACT"
    return "TA_PATH_WINOGRAD_CLAMP" if act_min > -128 or act_max < 127 else "TA_PATH_WINOGRAD"


def sums_path(depth: int) -> str:
    """The sums loop the kernel takes: written out for 2, 4 or 8 channel groups, else the general one."""
    groups = depth // 4
    return f"TA_PATH_WINOGRAD_SUMS_{groups}" if groups in (2, 4, 8) else "TA_PATH_WINOGRAD_SUMS_ANY"


def lower(op, graph, pad_top: int, pad_left: int, mult, shift, act_min: int, act_max: int) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, _, _, depth = w.shape
    weights = w.array()
    bias_tensor = op.inputs[2] if len(op.inputs) > 2 else None
    bias = graph.tensor(bias_tensor).array().astype(np.int64) if bias_tensor is not None else None
    q = channel_requant(weights.reshape(out_c, -1), bias, mult, shift, x.zero_point, y.zero_point)
    return KernelCall(
        function="ta_conv2d_s8_winograd",
        sources=("fast/winograd/ta_conv2d_s8_winograd.c", "fast/winograd/ta_conv2d_s8_winograd.h",
                 "fast/winograd/internal/ta_winograd_sums.h", "fast/winograd/internal/ta_winograd_transforms.h",
                 "fast/ta_dsp.h"),
        params_type="ta_conv2d_winograd_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("pad_top", pad_top), ("pad_left", pad_left),
            ("input_zero_point", x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max), ("fast_requant", int(q.fast)),
        ),
        paths=(path(bool(q.fast), act_min, act_max), sums_path(depth)),
        args=(TensorArg(op.inputs[0]), ConstRef("pairs"), TensorArg(op.outputs[0]), ScratchArg()),
        constants=(ConstArray("pairs", "int8_t", pair_stream(transformed(weights), q)),),
        scratch_bytes=POSITIONS * 2 * TILES * 4 * (depth // 4) + POSITIONS * 2 * TILES * 4,
        macs=y.num_elements * 9 * depth,
        overlap=(op.inputs[0], overlap_lead(x.shape, y.shape, pad_top, pad_left)),
    )
