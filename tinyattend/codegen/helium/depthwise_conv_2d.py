"""DEPTHWISE_CONV_2D -> ta_depthwise_conv2d_s8_mve (templates/kernels/mve/depthwise): four output pixels of one
channel per vector, one VMLA by a scalar weight per tap, input rows staged channel-planar."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg
from ..ops import depthwise_conv_2d as portable
from ..ops._conv_quant import channel_multipliers, output_range
from ..ops._fast import to_int32
from ..ops.padding import conv_padding
from ._tables import SOURCES_COMMON, channel_bias, fits_int32

OP_TYPES = ("DEPTHWISE_CONV_2D",)
MAX_TAPS = 64               # TA_DW_MVE_MAX_TAPS
MAX_FILTER_H = 16           # the kernel's slot pointers
GATHER_LANES = 8            # staging gathers eight bytes with uint16 offsets


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    x, w = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    _, fh, fw, out_c = w.shape
    if out_c % x.shape[3]:
        return ["output channels are not a multiple of the input channels"]
    if fh * fw > MAX_TAPS or max(fh, fw) > MAX_FILTER_H:
        return [f"a {fh}x{fw} window: the Helium kernel takes up to {MAX_TAPS} taps, {MAX_FILTER_H} per side"]
    if (GATHER_LANES - 1) * max(x.shape[2] * x.shape[3], x.shape[3]) * max(op.options["stride_w"],
                                                                           op.options["stride_h"]) >= 1 << 16:
        return ["input rows too wide for the staging gather's 16-bit offsets"]
    taps = w.array().reshape(-1, out_c).T
    if not fits_int32(channel_bias(taps, _bias(op), graph, x.zero_point)):
        return ["the folded bias does not fit int32"]
    if not _pays(op, graph) and portable._lower_fast(op, graph, *_fast_args(op, graph)) is not None:
        return ["the DSP fast kernel takes fewer instructions on this layer"]
    return []


# Rows of at least this many output pixels give the Helium kernel's 3x3 stride-1 path the lead over the
# DSP fast kernel on the M55 (VWW, make bench: 48- and 24-wide rows 0.85-0.95x of the fast kernel's
# instructions, 12-wide 1.18x, 6-wide 1.67x; stride-2 layers and other windows 1.8-2.7x), measured before
# the one-piece path (_fused), which takes every layer it can run, in place where the shapes allow (KWS's
# 25 x 5 maps walked transposed: 104.6k instructions a layer against the fast kernel's 145.4k). Elsewhere
# the op takes the fast kernel when it can.
MIN_ROW = 24


def _pays(op, graph) -> bool:
    w, y = graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    _, fh, fw, _ = w.shape
    o = op.options
    out_h, out_w = y.shape[1], y.shape[2]
    if _fused(op, graph):
        return True
    return (fh == 3 and fw == 3 and o["stride_w"] == 1 and o["dilation_w_factor"] == 1 and out_w >= MIN_ROW
            and not transposed_is_cheaper(out_h, out_w))


def _fused(op, graph) -> bool:
    """Whether the kernel takes its one-piece 3x3 path (ta_dw_mve_fused_3x3: 30 instructions per four
    outputs, requantization and store included, in place): 3x3, stride 1, no dilation, depth multiplier 1
    and at most one bound of the clamp inside int8 (32 instructions then). KWS's 25 x 5 layers: 0.6x of
    the DSP fast kernel's instructions."""
    x, w = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    o = op.options
    return (w.shape[1:3] == (3, 3) and w.shape[3] == x.shape[3] and o["stride_w"] == o["stride_h"] == 1
            and o["dilation_w_factor"] == o["dilation_h_factor"] == 1
            and (output_range(graph, op)[0] == -128 or output_range(graph, op)[1] == 127))


def _in_place(op, graph) -> bool:
    """Output row oy overwrites input row oy only after every row a later output row reads from it is
    staged (rolling slots: stride 1 down the walk, no dilation there), and the two tensors have one
    layout (depth multiplier 1, same shape)."""
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    o = op.options
    return (tuple(x.shape) == tuple(y.shape) and o["stride_h"] == o["stride_w"] == 1
            and o["dilation_h_factor"] == o["dilation_w_factor"] == 1)


def _fast_args(op, graph):
    """The fast depthwise lowering's arguments (ops/depthwise_conv_2d._lower_fast), to ask whether it applies."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    mult, shift = channel_multipliers(graph, op, w.shape[3])
    act_min, act_max = output_range(graph, op)
    pad_top, pad_left = conv_padding(op.options, x.shape, w.shape[1], w.shape[2], y.shape)
    return pad_top, pad_left, mult, shift, act_min, act_max


def _bias(op):
    return op.inputs[2] if len(op.inputs) > 2 else None


def transposed_is_cheaper(out_h: int, out_w: int) -> bool:
    """Four output pixels of a row per vector: a narrow map (KWS: 25 x 5, rows of 5 pixels in two vectors
    of four) wastes lanes that its transpose (rows of 25 in seven) does not."""
    return out_w * -(-out_h // 4) < 0.9 * out_h * -(-out_w // 4)


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    _, fh, fw, out_c = w.shape
    o = op.options
    mult, shift = channel_multipliers(graph, op, out_c)
    act_min, act_max = output_range(graph, op)
    pad_top, pad_left = conv_padding(o, x.shape, fh, fw, y.shape)
    n, in_h, in_w, in_c = x.shape
    _, out_h, out_w, _ = y.shape
    taps = w.array().reshape(fh, fw, out_c).transpose(2, 0, 1)           # [out_c][fh][fw]
    bias = channel_bias(taps.reshape(out_c, -1), _bias(op), graph, x.zero_point)
    sh, sw, dh, dw = o["stride_h"], o["stride_w"], o["dilation_h_factor"], o["dilation_w_factor"]
    in_strides, out_strides = (in_c, in_w * in_c), (out_c, out_w * out_c)   # (along a row, along a column)
    if transposed_is_cheaper(out_h, out_w):
        in_h, in_w, out_h, out_w, sh, sw, dh, dw = in_w, in_h, out_w, out_h, sw, sh, dw, dh
        fh, fw, pad_top, pad_left = fw, fh, pad_left, pad_top
        taps = taps.transpose(0, 2, 1)
        in_strides, out_strides = in_strides[::-1], out_strides[::-1]
    # a plane row: the output row's four-pixel groups (the last one whole) plus the window's reach
    plane_w = -(-out_w // 4) * 4 + (fw - 1) * dw // sw
    shift = shift.astype(np.int64)
    channel = np.stack([bias, mult.astype(np.int64), np.maximum(shift, 0), np.minimum(shift, 0)], axis=1)
    return KernelCall(
        function="ta_depthwise_conv2d_s8_mve",
        sources=("mve/depthwise/ta_depthwise_conv2d_s8_mve.c", "mve/depthwise/ta_depthwise_conv2d_s8_mve.h",
                 *SOURCES_COMMON),
        params_type="ta_depthwise_mve_params",
        params=(
            ("batches", n), ("in_h", in_h), ("in_w", in_w), ("in_c", in_c),
            ("out_h", out_h), ("out_w", out_w), ("out_c", out_c),
            ("in_x_stride", in_strides[0]), ("in_y_stride", in_strides[1]),
            ("out_x_stride", out_strides[0]), ("out_y_stride", out_strides[1]),
            ("image_bytes", x.num_elements // n), ("out_image_bytes", y.num_elements // n),
            ("filter_h", fh), ("filter_w", fw), ("depth_multiplier", out_c // in_c),
            ("stride_h", sh), ("stride_w", sw), ("dilation_h", dh), ("dilation_w", dw),
            ("pad_top", pad_top), ("pad_left", pad_left), ("plane_w", plane_w),
            ("input_zero_point", x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), ConstRef("channel"), TensorArg(op.outputs[0]),
              ScratchArg()),
        constants=(ConstArray("weights", "int8_t", np.ascontiguousarray(taps).reshape(-1)),
                   ConstArray("channel", "int32_t", to_int32(channel.reshape(-1), "channel constants"))),
        scratch_bytes=16 * -(-fh // 4) + 16 * -(-out_w // 4) + fh * in_c * sw * plane_w,
        macs=y.num_elements * fh * fw,
        in_place=_in_place(op, graph),
    )
