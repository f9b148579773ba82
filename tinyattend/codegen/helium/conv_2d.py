"""CONV_2D -> ta_conv2d_s8_mve (templates/kernels/mve/conv): two pixels by four channels per VMLADAVA step."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims
from ..ops import conv_2d as portable
from ..ops._conv_quant import channel_multipliers, output_range
from ..ops._overlap import conv_overlap
from ..ops.padding import conv_padding
from ._tables import SOURCES_COMMON, channel_bias, fits_int32, quad_blocks, quad_table

OP_TYPES = ("CONV_2D",)
BLOCK = 16                  # int8 lanes per vector


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    x, w = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    if w.shape[3] != x.shape[3]:
        return ["grouped convolution: the Helium kernel takes filter depth == input channels"]
    rows = w.array().reshape(w.shape[0], -1)
    if not fits_int32(channel_bias(rows, _bias(op), graph, x.zero_point)):
        return ["the folded bias does not fit int32"]
    return []


def in_place_pays(fh: int, run: int, out_c: int) -> bool:
    """Whether reading a window's rows in place (each filter row as whole vectors: its run rounded up to 16
    bytes, zero weights in the padding) beats gathering the column (the run's bytes only, one tile pass
    over K rounded up to 16). Per pixel pair, in instructions (rough counts from the M55: the tile takes
    16 per block and about 40 per group of four channels, a segment 6 more; gathering a column about
    30 + 80 per filter row)."""
    if run % BLOCK == 0:
        return True
    groups = -(-out_c // 4)
    gathered = groups * (16 * -(-fh * run // BLOCK) + 40) + 2 * (30 + 80 * fh)
    in_place = groups * (16 * fh * -(-run // BLOCK) + 40 + 6 * fh)
    return in_place < gathered


def _bias(op):
    return op.inputs[2] if len(op.inputs) > 2 else None


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, fh, fw, depth = w.shape
    o = op.options
    mult, shift = channel_multipliers(graph, op, out_c)
    act_min, act_max = output_range(graph, op)
    pad_top, pad_left = conv_padding(o, x.shape, fh, fw, y.shape)
    direct = int(fh == 1 and fw == 1 and pad_top == 0 and pad_left == 0)
    run = fw * depth
    rows_in_place = int(not direct and o["dilation_w_factor"] == 1 and in_place_pays(fh, run, out_c))
    row_pitch = -(-run // BLOCK) * BLOCK if rows_in_place else run
    padded = np.zeros((out_c, fh, row_pitch), np.int8)
    padded[:, :, :run] = w.array().reshape(out_c, fh, run)
    rows = padded.reshape(out_c, -1)
    col_len = -(-rows.shape[1] // BLOCK) * BLOCK
    # Read in place (1x1, or a window's rows), pixels p and p + 1 are read while both are written: one
    # output pixel more of lead than a raster kernel needs (codegen/ops/_overlap.py); gathered columns
    # are copied first.
    overlap = conv_overlap(op, graph, pad_top, pad_left)
    if overlap is not None and (direct or rows_in_place):
        overlap = (overlap[0], overlap[1] + out_c)
    bias = channel_bias(w.array().reshape(out_c, -1), _bias(op), graph, x.zero_point)
    return KernelCall(
        function="ta_conv2d_s8_mve",
        sources=("mve/conv/ta_conv2d_s8_mve.c", "mve/conv/ta_conv2d_s8_mve.h", *SOURCES_COMMON),
        params_type="ta_conv2d_mve_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw),
            ("stride_h", o["stride_h"]), ("stride_w", o["stride_w"]),
            ("dilation_h", o["dilation_h_factor"]), ("dilation_w", o["dilation_w_factor"]),
            ("pad_top", pad_top), ("pad_left", pad_left), ("row_pitch", row_pitch), ("col_len", col_len),
            ("direct", direct),
            ("input_zero_point", x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max), ("left_shift", int(bool((shift > 0).any()))),
            ("rows_in_place", rows_in_place),
        ),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), ConstRef("channel"), TensorArg(op.outputs[0]),
              "NULL" if direct and depth % BLOCK == 0 else ScratchArg()),
        constants=(ConstArray("weights", "int8_t", quad_blocks(rows, col_len)),
                   ConstArray("channel", "int32_t", quad_table(bias, mult, shift))),
        scratch_bytes=0 if direct and depth % BLOCK == 0 else 2 * (col_len + BLOCK),
        macs=y.num_elements * fh * fw * depth,
        overlap=overlap,
    )

