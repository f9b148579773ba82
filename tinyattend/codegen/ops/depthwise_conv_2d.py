"""DEPTHWISE_CONV_2D: int8, per-channel weights, any depth multiplier."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims, unsupported
from ._checks import constant_input, fused_activation, int8_activations, weighted_op_shapes
from ._conv_quant import channel_multipliers, output_range
from ._fast import channel_requant, fits_u16, to_int32, wants_fast
from ._overlap import conv_overlap
from .padding import conv_padding

OP_TYPES = ("DEPTHWISE_CONV_2D",)
MAX_RANK = 4              # NHWC only (the ONNX pre-check reads it too)
# An option the fusion policy sets (codegen/fusion/policy.py): the fast kernel widens one channel at a
# time into a single plane of scratch instead of four (a quarter of the bytes, more instructions to fill)
NARROW_PLANES = "narrow_planes"


def check(op, graph, target) -> list[str]:
    shape_problem = "" if int8_activations(op, graph) or constant_input(op, graph, 1, "weights") \
        else weighted_op_shapes(op, graph, 4)
    if shape_problem:
        return [shape_problem]
    reasons = [int8_activations(op, graph), constant_input(op, graph, 1, "filter"), fused_activation(op)]
    if not reasons[1] and graph.tensor(op.inputs[1]).dtype != "int8":
        reasons.append("only int8 filters are supported")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    _, fh, fw, out_c = w.shape
    o = op.options
    mult, shift = channel_multipliers(graph, op, out_c)
    act_min, act_max = output_range(graph, op)
    pad_top, pad_left = conv_padding(o, x.shape, fh, fw, y.shape)
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if wants_fast(target) and o["dilation_h_factor"] == 1 and o["dilation_w_factor"] == 1:
        fast = _lower_fast(op, graph, pad_top, pad_left, mult, shift, act_min, act_max)
        if fast is not None:
            return fast
    return KernelCall(
        function="ta_depthwise_conv2d_s8",
        sources=("conv/ta_depthwise_conv2d_s8.c", "conv/ta_depthwise_conv2d_s8.h"),
        params_type="ta_depthwise_conv2d_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw), ("depth_multiplier", out_c // x.shape[3]),
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
        macs=y.num_elements * fh * fw,
        overlap=conv_overlap(op, graph, pad_top, pad_left),   # raster order; the fast kernel is planar: no
    )


def _row_cost(out_w: int, stride: int) -> int:
    """Instructions per output row of one channel in the 3x3 assembly (counted for the M7):
    steps of four outputs, then a pair and a single as out_w % 4 says, the row's end, and the
    tail dispatch unless the layer's row program needs none (steps only, steps + single, six, three)."""
    quad, pair = (61, 33) if stride == 1 else (64, 37)
    quads, rem = divmod(out_w, 4)
    dispatch = 0 if (quads and rem < 2) or out_w in (3, 6) else 7
    return quad * quads + pair * (rem >= 2) + 21 * (rem % 2) + 8 + dispatch


def _fill_cost(rows: int, cols: int, group: int) -> float:
    """Instructions to widen one channel into the plane: per row, 4/2/1 values per step, one
    channel at a time or (group 4) four channels from each word load."""
    if group == 4:
        return rows * (27 * (cols // 4) + 14 * (cols % 4 >= 2) + 10 * (cols % 2) + 13) / 4
    return rows * (11 * (cols // 4) + 5 * (cols % 4 >= 2) + 3 * (cols % 2) + 14)


def _transposed_is_cheaper(in_h, in_w, out_h, out_w, sh, sw, group) -> bool:
    """Seen transposed, a tall narrow map (KWS: 25 x 5) has long plane rows: fewer row
    overheads and odd-width tails."""
    if sh not in (1, 2):
        return False
    normal = out_h * _row_cost(out_w, sw) + _fill_cost(in_h, in_w, group)
    transposed = out_w * _row_cost(out_h, sh) + _fill_cost(in_w, in_h, group)
    return transposed < 0.95 * normal


# The fast kernel's assembly row loops for a 3x3 window, by output width (rows_program).
ROWS_PROGRAMS = ("ANY", "STEPS", "STEPS_ONE", "SIX", "THREE")


def _rows_program(out_w: int) -> int:
    """Which row loop fits out_w: whole steps of four outputs, steps and one more, exactly six or three
    outputs (unrolled), else the general loop."""
    quads, rest = divmod(out_w, 4)
    if quads and rest == 0:
        return 1
    if quads and rest == 1:
        return 2
    return 3 if out_w == 6 else 4 if out_w == 3 else 0


def _dw_path(taps3x3: bool, pair_words: int, full_range: bool, stride_w: int, program: int,
             sign_free: bool = False) -> str:
    """The kernel path (TA_PATH_* in the kernel) a layer takes on a core with the DSP extension."""
    if pair_words:
        return "TA_PATH_DW_PAIRS"
    if not taps3x3:
        return "TA_PATH_DW_GENERIC"
    if not full_range:
        return "TA_PATH_DW_3X3_C"
    return f"TA_PATH_DW_S{stride_w}_{ROWS_PROGRAMS[program]}" + ("_SF" if sign_free else "")


def _lower_fast(op, graph, pad_top, pad_left, mult, shift, act_min, act_max) -> KernelCall | None:
    """Per-channel int16 planes (templates/kernels/fast/depthwise/), or None
    when the short requantization cannot be proven exact (then the portable kernel runs).
    Weights and folded bias are doubled (the kernel accumulates 2 * acc, which the exactness
    proof keeps below 2^31), or, for channels whose TFLite shift is >= 0, scaled and offset as
    _requant_left says; scratch is one padded int16 plane per channel widened together
    (four when the channel count allows). Windows other than 3x3 at stride_w 1 or 2 get their
    weights as int16 pairs per filter row (one SMLAD per pair of taps). A 3x3 layer on a tall narrow
    map is given to the kernel transposed (h and w swapped, weights transposed), with the
    NHWC strides of its pixels."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    _, fh, fw, out_c = w.shape
    o = op.options
    taps = w.array().reshape(fh * fw, out_c).T.astype(np.int64)        # [out_c][taps]
    bias_tensor = op.inputs[2] if len(op.inputs) > 2 else None
    bias = graph.tensor(bias_tensor).array().astype(np.int64) if bias_tensor is not None else None
    q = channel_requant(taps, bias, mult, shift, x.zero_point, y.zero_point, scalable=True)
    if not q.fast:
        return None
    n, in_h, in_w, in_c = x.shape
    _, out_h, out_w, _ = y.shape
    sh, sw = o["stride_h"], o["stride_w"]
    kernel = (q.scale[:, None] * taps).reshape(out_c, fh, fw)         # doubled (or scaled: shift >= 0) weights
    in_strides, out_strides = (in_c, in_w * in_c), (out_c, out_w * out_c)     # (along a row, along a column)
    taps3x3 = fh == 3 and fw == 3 and sw in (1, 2)
    # channels widened together (word loads of four channels): four planes of scratch; one where the
    # fusion policy found the four planes beside a whole map set the arena (NARROW_PLANES)
    group = 4 if in_c % 4 == 0 and not op.options.get(NARROW_PLANES) else 1
    transposed = fh == 3 and fw == 3 and _transposed_is_cheaper(in_h, in_w, out_h, out_w, sh, sw, group)
    if transposed:
        in_h, in_w, out_h, out_w, sh, sw, pad_top, pad_left = in_w, in_h, out_w, out_h, sw, sh, pad_left, pad_top
        kernel = kernel.transpose(0, 2, 1)
        in_strides, out_strides = in_strides[::-1], out_strides[::-1]
        taps3x3 = True
    # other windows at stride_w 1 or 2: a weight word per pair of taps in a filter row
    pair_words = 0 if taps3x3 or sw not in (1, 2) else (fw + 1) // 2
    plane_h = (out_h - 1) * sh + fh
    plane_w = ((out_w + 1) * sw + fw + 2 + 1) // 2 * 2
    # the pair path reads whole words: up to column (out_w - 1) * sw + 2 * pair_words - 1
    plane_w = max(plane_w, ((out_w - 1) * sw + 2 * pair_words + 1) // 2 * 2)
    if taps3x3:
        k = kernel
        w01 = (k[:, :, 0] & 0xFFFF) | (k[:, :, 1] << 16)                # (w0, w1) as int16 halves
        w12 = (k[:, :, 1] & 0xFFFF) | (k[:, :, 2] << 16)                # (w1, w2)
        words = np.stack([w01, w12], axis=2).reshape(out_c, 6) & 0xFFFFFFFF
        signed = np.where(words >= 1 << 31, words - (1 << 32), words)
        weights = ConstArray("weights", "int32_t", to_int32(signed, "weights"))
    elif pair_words:
        padded = np.zeros((out_c, fh, 2 * pair_words), np.int64)
        padded[:, :, :fw] = kernel
        words = ((padded[:, :, 0::2] & 0xFFFF) | (padded[:, :, 1::2] << 16)) & 0xFFFFFFFF   # (w0, w1), ...
        signed = np.where(words >= 1 << 31, words - (1 << 32), words)
        weights = ConstArray("weights", "int32_t", to_int32(signed.ravel(), "weights"))
    else:
        per = (fh * fw + 1) // 2 * 2
        padded = np.zeros((out_c, per), np.int64)
        padded[:, :fh * fw] = kernel.reshape(out_c, fh * fw)
        weights = ConstArray("weights", "int16_t", padded.astype(np.int16).ravel())
    channel = np.stack([q.scale * q.bias.astype(np.int64) + q.offset, q.multiplier, q.round, q.shift], axis=1)
    full_range = act_min == -128 and act_max == 127
    # the 3x3 assembly drops the requantization's sign correction: exact when the output zero point is -128
    # (every negative accumulator then saturates to -128 with or without it; ta_dw_fast_rows.h)
    sign_free = taps3x3 and full_range and y.zero_point == -128
    program = _rows_program(out_w)
    if not fits_u16(n, in_h, in_w, in_c, out_h, out_w, out_c, fh, fw, sh, sw, pad_top, pad_left, plane_h, plane_w):
        return None         # beyond the 16-bit parameter fields
    return KernelCall(
        function="ta_depthwise_conv2d_s8_fast",
        sources=("fast/depthwise/ta_depthwise_conv2d_s8_fast.c", "fast/depthwise/ta_depthwise_conv2d_s8_fast.h",
                 "fast/depthwise/internal/ta_dw_fast_planes.h", "fast/depthwise/internal/ta_dw_fast_rows.h",
                 "fast/depthwise/internal/ta_dw_fast_channel.h", "fast/ta_dsp.h"),
        params_type="ta_depthwise_fast_params",
        params=(
            ("input", dims((n, in_h, in_w, in_c))), ("output", dims((n, out_h, out_w, out_c))),
            ("filter_h", fw if transposed else fh), ("filter_w", fh if transposed else fw),
            ("depth_multiplier", out_c // in_c),
            ("stride_h", sh), ("stride_w", sw), ("pad_top", pad_top), ("pad_left", pad_left),
            ("plane_h", plane_h), ("plane_w", plane_w), ("fill_group", group),
            ("input_zero_point", x.zero_point),
            ("full_range", int(full_range)),
            ("act_min", act_min), ("act_max", act_max),
            ("in_x_stride", in_strides[0]), ("in_y_stride", in_strides[1]),
            ("out_x_stride", out_strides[0]), ("out_y_stride", out_strides[1]),
            ("taps3x3", int(taps3x3)), ("pair_words", pair_words), ("rows_program", program),
            ("sign_free", int(sign_free)),
            ("channel", ConstRef("channel")),
        ),
        paths=(_dw_path(taps3x3, pair_words, full_range, sw, program, sign_free),),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), TensorArg(op.outputs[0]), ScratchArg()),
        constants=(weights, ConstArray("channel", "int32_t", to_int32(channel.ravel(), "channel constants"))),
        scratch_bytes=group * plane_h * plane_w * 2,
        macs=y.num_elements * fh * fw,
        # channel-planar: input channels c .. c + group - 1 are read whole (into the planes) before
        # those output channels are written, and with one output channel per input channel those
        # are the same bytes
        in_place=out_c == x.shape[3],
    )
