"""DEPTHWISE_CONV_2D -> ta_depthwise_conv2d_s8_mve (templates/kernels/mve/depthwise): four channels per
vector, four output pixels per weight load."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims
from ..ops import depthwise_conv_2d as portable
from ..ops._conv_quant import channel_multipliers, output_range
from ..ops.padding import conv_padding
from ._tables import SOURCES_COMMON, channel_bias, fits_int32, lane_table, pad_to

OP_TYPES = ("DEPTHWISE_CONV_2D",)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    x, w = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    if w.shape[3] % x.shape[3]:
        return ["output channels are not a multiple of the input channels"]
    taps = w.array().reshape(-1, w.shape[3]).T
    if not fits_int32(channel_bias(taps, _bias(op), graph, x.zero_point)):
        return ["the folded bias does not fit int32"]
    return []


def _bias(op):
    return op.inputs[2] if len(op.inputs) > 2 else None


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    _, fh, fw, out_c = w.shape
    o = op.options
    mult, shift = channel_multipliers(graph, op, out_c)
    act_min, act_max = output_range(graph, op)
    pad_top, pad_left = conv_padding(o, x.shape, fh, fw, y.shape)
    channels = -(-out_c // 4) * 4
    taps = w.array().reshape(fh * fw, out_c)
    weights = np.zeros((fh * fw, channels), np.int8)
    weights[:, :out_c] = taps
    bias = channel_bias(taps.T, _bias(op), graph, x.zero_point)
    span_w = (y.shape[2] - 1) * o["stride_w"] + (fw - 1) * o["dilation_w_factor"] + 1
    return KernelCall(
        function="ta_depthwise_conv2d_s8_mve",
        sources=("mve/depthwise/ta_depthwise_conv2d_s8_mve.c", "mve/depthwise/ta_depthwise_conv2d_s8_mve.h",
                 *SOURCES_COMMON),
        params_type="ta_depthwise_mve_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw), ("depth_multiplier", out_c // x.shape[3]),
            ("stride_h", o["stride_h"]), ("stride_w", o["stride_w"]),
            ("dilation_h", o["dilation_h_factor"]), ("dilation_w", o["dilation_w_factor"]),
            ("pad_top", pad_top), ("pad_left", pad_left), ("span_w", span_w), ("channels", channels),
            ("input_zero_point", x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), ConstRef("channel"), TensorArg(op.outputs[0]),
              ScratchArg()),
        constants=(ConstArray("weights", "int8_t", weights.reshape(-1)),
                   ConstArray("channel", "int32_t",
                              lane_table(pad_to(bias, channels), pad_to(mult, channels), pad_to(shift, channels)))),
        scratch_bytes=fh * span_w * x.shape[3],
        macs=y.num_elements * fh * fw,
    )
