"""CONV_2D: int8 convolution with per-channel int8 weights and int32 bias."""
from __future__ import annotations

import numpy as np

from . import _winograd
from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims, unsupported
from ._checks import constant_input, fused_activation, int8_activations, weighted_op_shapes
from ._conv_quant import channel_multipliers, output_range
from ._fast import channel_requant, fits_u16, pair_rows, split_bias, split_bytes, splittable, to_int32, wants_fast
from ._overlap import conv_overlap
from .padding import conv_padding

OP_TYPES = ("CONV_2D",)
MAX_RANK = 4              # NHWC only (the ONNX pre-check reads it too)


def check(op, graph, target) -> list[str]:
    shape_problem = "" if int8_activations(op, graph) or constant_input(op, graph, 1, "weights") \
        else weighted_op_shapes(op, graph, 4)
    if shape_problem:
        return [shape_problem]
    reasons = [int8_activations(op, graph), constant_input(op, graph, 1, "filter"), fused_activation(op)]
    if not reasons[1] and graph.tensor(op.inputs[1]).dtype != "int8":
        reasons.append(f"filter is {graph.tensor(op.inputs[1]).dtype}; only int8 filters are supported")
    if len(op.inputs) > 2 and op.inputs[2] is not None and graph.tensor(op.inputs[2]).dtype != "int32":
        reasons.append("bias must be int32")
    return unsupported(reasons)


def fast_conv(op, graph, target) -> bool:
    """Whether the fast kernel runs this convolution: not grouped, and every parameter fits its
    16-bit field (shapes, the filter's span, the column length fh * fw * c rounded up to 4)."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, fh, fw, depth = w.shape
    o = op.options
    spans = ((fh - 1) * o["dilation_h_factor"] + 1, (fw - 1) * o["dilation_w_factor"] + 1)
    return (wants_fast(target) and depth == x.shape[3]
            and fits_u16(*x.shape, *y.shape, *spans, o["stride_h"], o["stride_w"], fh * fw * depth + 3))


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, fh, fw, depth = w.shape
    o = op.options
    mult, shift = channel_multipliers(graph, op, out_c)
    act_min, act_max = output_range(graph, op)
    pad_top, pad_left = conv_padding(o, x.shape, fh, fw, y.shape)
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if op.index in target.winograd_ops and fast_conv(op, graph, target) and _winograd.eligible(op, graph):
        return _winograd.lower(op, graph, pad_top, pad_left, mult, shift, act_min, act_max)
    if fast_conv(op, graph, target):
        return _lower_fast(op, graph, pad_top, pad_left, mult, shift, act_min, act_max,
                           op.index not in target.uncopied_ops, wide=op.index in target.wide_ops)
    return KernelCall(
        function="ta_conv2d_s8",
        sources=("conv/ta_conv2d_s8.c", "conv/ta_conv2d_s8.h"),
        params_type="ta_conv2d_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw), ("filter_depth_per_group", depth),
            ("stride_h", o["stride_h"]), ("stride_w", o["stride_w"]),
            ("dilation_h", o["dilation_h_factor"]), ("dilation_w", o["dilation_w_factor"]),
            ("pad_top", pad_top), ("pad_left", pad_left),
            ("input_offset", -x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max),
            ("multiplier", ConstRef("mult")), ("shift", ConstRef("shift")),
        ),
        args=(TensorArg(op.inputs[0]), TensorArg(op.inputs[1], const=True),
              TensorArg(bias, const=True) if bias is not None else "NULL", TensorArg(op.outputs[0])),
        constants=(ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift)),
        macs=y.num_elements * fh * fw * depth,
        overlap=conv_overlap(op, graph, pad_top, pad_left),
    )


# Weight forms of the fast kernel (ta_conv2d_fast_params.weight_form).
FORM_INT8, FORM_WIDE, FORM_SPLIT = 0, 1, 2
# Split int8 weights save 2 of 20 instructions per tile step and channel pair, and cost about
# 18 per group and three-pixel tile to prepare the columns, plus 4 per pair and tile: worth it
# from about ten channel pairs on. (Measured on M7: thresholds 8 and 20 give the same counts for
# the MLPerf and zoo models, 48 gives attendnext-micro 720 instructions more.)
SPLIT_MIN_CHANNELS = 20


def weight_form(columns: np.ndarray, wide: bool) -> int:
    """FORM_WIDE when widened (--optimize speed/balanced's choice), else FORM_SPLIT where it pays
    and every odd column weight can be negated in int8, else FORM_INT8."""
    if wide:
        return FORM_WIDE
    if columns.shape[0] >= SPLIT_MIN_CHANNELS and splittable(columns):
        return FORM_SPLIT
    return FORM_INT8


# Tile steps the kernel's assembly loop holds (TA_TILE_UNROLL in internal/ta_conv2d_fast_pairs.h).
TILE_UNROLL = 16


def _conv_path(form: int, fast_requant: bool, act_min: int, act_max: int, row_len: int) -> str:
    """The kernel path (TA_PATH_* in the kernel) a layer takes: TFLM's requantization in C, or the
    assembly channel-pair loop for its weight form, with a clamp where the activation range is narrower
    than int8's; int16 weights with at most TILE_UNROLL groups of four take the loop without its test."""
    if not fast_requant:
        return "TA_PATH_CONV_EXACT"
    clamp = "_CLAMP" if act_min > -128 or act_max < 127 else ""
    short = "_SHORT" if form == FORM_WIDE and row_len // 4 <= TILE_UNROLL else ""
    return f"TA_PATH_CONV_{('INT8', 'WIDE', 'SPLIT')[form]}{short}{clamp}"


def _lower_fast(op, graph, pad_top, pad_left, mult, shift, act_min, act_max, copy: bool = True, *,
                wide: bool) -> KernelCall:
    """Three-pixel columns + 3x2 SMLAD tile (templates/kernels/fast/conv/).
    wide: weights stored widened to int16 (twice the flash, 16 instead of 20 instructions
    per 24 MACs, 4 instead of 5 per output to requantize); otherwise int8, "split" where it pays (18 per 24, same flash)."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, fh, fw, depth = w.shape
    o = op.options
    run_taps = fw if o["dilation_w_factor"] == 1 else 1
    weights = w.array()
    columns = column_order(weights, run_taps)
    row_len = columns.shape[1]
    bias_tensor = op.inputs[2] if len(op.inputs) > 2 else None
    bias = graph.tensor(bias_tensor).array().astype(np.int64) if bias_tensor is not None else None
    # int16 taps can be scaled: channels with TFLite shift >= 0 keep the fast requantization; they
    # are stored scaled (doubled for the usual channels), so the kernel does not double its accumulator
    q = channel_requant(weights.reshape(out_c, -1), bias, mult, shift, x.zero_point, y.zero_point,
                        scalable=wide)
    form = weight_form(columns, wide)
    run_len = run_taps * depth
    rest_len = fh * (fw // run_taps) * (run_len % 4)
    padded = padded_copy_bytes(x.shape, y.shape, (fh, fw), o, pad_top, pad_left) if copy else 0
    return KernelCall(
        function="ta_conv2d_s8_fast",
        sources=("fast/conv/ta_conv2d_s8_fast.c", "fast/conv/ta_conv2d_s8_fast.h",
                 "fast/conv/internal/ta_conv2d_fast_columns.h", "fast/conv/internal/ta_conv2d_fast_tile.h",
                 "fast/conv/internal/ta_conv2d_fast_pairs.h", "fast/ta_dsp.h"),
        params_type="ta_conv2d_fast_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw),
            ("stride_h", o["stride_h"]), ("stride_w", o["stride_w"]),
            ("dilation_h", o["dilation_h_factor"]), ("dilation_w", o["dilation_w_factor"]),
            ("pad_top", pad_top), ("pad_left", pad_left), ("run_taps", run_taps), ("row_len", row_len),
            ("input_zero_point", x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max), ("fast_requant", int(q.fast)),
            ("weight_form", form), ("padded_copy", int(padded > 0)),
        ),
        paths=(_conv_path(form, bool(q.fast), act_min, act_max, row_len),),
        args=(TensorArg(op.inputs[0]), ConstRef("pairs"), TensorArg(op.outputs[0]), ScratchArg()),
        constants=(ConstArray("pairs", "int8_t", pair_stream(columns, q, form)),),
        scratch_bytes=6 * row_len + _round4(_staged_bytes(fh, fw, run_taps, depth)) + _round4(rest_len)
        + _round4(padded),
        macs=y.num_elements * fh * fw * depth,
        overlap=conv_overlap(op, graph, pad_top, pad_left),
    )


# The padded copy (ta_conv2d_fast_params.padded_copy) pays where many pixels would stage border
# taps byte by byte: first layers (input.c % 4 != 0) with padding. Bounded so that the scratch
# stays small next to the layer's own tensors (KWS's first layer: 696 bytes, ResNet-8's 3,468;
# VWW's 96x96x3 image, with padding only after its last row and column, stays uncopied).
PADDED_COPY_MAX_BYTES = 4096


def padded_copy_bytes(x_shape, y_shape, filter_hw, o, pad_top: int, pad_left: int) -> int:
    """Bytes of the zero-point-padded image the fast kernel copies the input into (0: no copy):
    the extent of the output's receptive fields, when they reach outside the image."""
    _, in_h, in_w, depth = x_shape
    spans = [(f - 1) * o[k] + 1 for f, k in zip(filter_hw, ("dilation_h_factor", "dilation_w_factor"))]
    h = (y_shape[1] - 1) * o["stride_h"] + spans[0]
    w = (y_shape[2] - 1) * o["stride_w"] + spans[1]
    outside = pad_top > 0 or pad_left > 0 or h - pad_top > in_h or w - pad_left > in_w
    size = h * w * depth
    return size if depth % 4 and outside and size <= PADDED_COPY_MAX_BYTES else 0


def column_order(weights: np.ndarray, run_taps: int) -> np.ndarray:
    """[out_c][fh][fw][c] weights as [out_c][row_len] rows in the fast kernel's column order:
    per filter row, runs of run_taps taps; the first 4 * (len // 4) values of every run in
    turn, then every run's last len % 4 values, then zeros to a multiple of 4."""
    out_c, fh, fw, depth = weights.shape
    runs = [weights[:, ky, r:r + run_taps, :].reshape(out_c, -1) for ky in range(fh) for r in range(0, fw, run_taps)]
    whole = 4 * (run_taps * depth // 4)
    parts = [run[:, :whole] for run in runs] + [run[:, whole:] for run in runs]
    rows = np.concatenate(parts, axis=1)
    padded = np.zeros((out_c, _round4(rows.shape[1])), np.int8)
    padded[:, :rows.shape[1]] = rows
    return padded


def pair_stream(rows: np.ndarray, q, form: int = FORM_INT8) -> np.ndarray:
    """What the kernel reads for each output channel pair, in order (an odd last channel is
    paired with itself), as bytes:
      int32 bias0 bias1, three times (the tile's six accumulators, one LDM: 16 bytes more flash
        per pair for 4 instructions less per pair and tile), once with FORM_SPLIT (which adds
        per-pixel corrections to them anyway),
      the pair's weights, [row_len/4][2][4] int8 (pair_rows), or with FORM_WIDE the same
        widened to int16 in SXTB16 lane order, each group of four (e0 e1 e2 e3) as
        e0 e2 e1 e3: [row_len/4][2][4] int16 (with the fast requantization doubled, bias too,
        or scaled as q.scale and q.offset say), or with FORM_SPLIT the int8 bytes
        (e0 + 128, -e1, e2 + 128, -e3), the bias lowered by 129 * (e1 + e3) summed over
        the row (see ta_conv2d_s8_fast.h),
      int32 mult0 mult1 round0 round1 right0 right1 (fast form) or
            mult0 mult1 shift0 shift1 0 0 (TFLM's form, TFLite's signed shifts).
    bias = bias - input_zero_point * sum(w). rows: [out_c][row_len] in column order."""
    out_c, row_len = rows.shape
    bias = q.bias
    if q.scale is not None:
        # FORM_WIDE with the fast requantization: weights and bias stored as the kernel's accumulator
        # wants them, scale * acc + offset (2 * acc for the usual channels, _requant_left's scaled and
        # offset ones elsewhere), which channel_requant keeps within int32; int8 weights times a
        # scale of at most 256 fit int16.
        bias = to_int32(q.scale * q.bias.astype(np.int64) + q.offset, "scaled bias")
        rows = rows.astype(np.int64) * q.scale[:, None]
    if form == FORM_SPLIT:
        bias = split_bias(q.bias, rows)
        rows = split_bytes(rows)                              # even bytes 0..255, odd -127..127
    third = q.round if q.fast else q.shift
    fourth = q.shift if q.fast else np.zeros_like(q.shift)
    table = np.stack([bias, q.multiplier, third, fourth]).astype("<i4")       # [4][out_c]
    weights = pair_rows(rows).reshape(-1, row_len * 2)
    if form == FORM_WIDE:
        lanes = weights.reshape(weights.shape[0], -1, 4)[:, :, [0, 2, 1, 3]].astype("<i2")
        weights = lanes.reshape(weights.shape[0], -1).view(np.int8)
    if out_c % 2:
        table = np.concatenate([table, table[:, -1:]], axis=1)
    pairs = table.reshape(4, -1, 2).transpose(1, 0, 2)                         # [pair][4][2]
    head = pairs[:, 0, :].astype("<i4")                                        # [pair][2]
    if form != FORM_SPLIT:          # once per tile pixel: one LDM starts the tile's accumulators
        head = np.tile(head, (1, 3))
    tail = pairs[:, 1:, :].reshape(-1, 6).astype("<i4")
    stream = np.concatenate([head.view(np.int8), weights, tail.view(np.int8)], axis=1)
    return np.ascontiguousarray(stream).reshape(-1)


def _staged_bytes(fh: int, fw: int, run_taps: int, depth: int) -> int:
    """The kernel's run stage, for border pixels when input.c % 4 != 0 (whole groups are
    widened tap by tap): all filter rows when they are single short runs, else one run."""
    if depth % 4 == 0:
        return 0
    run_len = run_taps * depth
    return fh * run_len if run_taps == fw and run_len < 16 else run_len


def _round4(n: int) -> int:
    return (n + 3) // 4 * 4
