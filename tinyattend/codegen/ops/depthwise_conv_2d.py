"""DEPTHWISE_CONV_2D: int8, per-channel weights, any depth multiplier."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims, unsupported
from ._checks import constant_input, fused_activation, int8_activations, weighted_op_shapes
from ._conv_quant import channel_multipliers, output_range
from ._fast import channel_requant, to_int32, wants_fast
from ._overlap import conv_overlap
from .padding import padding_before

OP_TYPES = ("DEPTHWISE_CONV_2D",)


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
    pad_top = padding_before(o["padding"], x.shape[1], fh, o["stride_h"], o["dilation_h_factor"], y.shape[1])
    pad_left = padding_before(o["padding"], x.shape[2], fw, o["stride_w"], o["dilation_w_factor"], y.shape[2])
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


def _lower_fast(op, graph, pad_top, pad_left, mult, shift, act_min, act_max) -> KernelCall | None:
    """Per-channel int16 planes (templates/kernels/fast/ta_depthwise_conv2d_s8_fast.c), or None
    when the short requantization cannot be proven exact (then the portable kernel runs)."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    _, fh, fw, out_c = w.shape
    o = op.options
    taps = w.array().reshape(fh * fw, out_c).T.astype(np.int64)        # [out_c][taps]
    bias_tensor = op.inputs[2] if len(op.inputs) > 2 else None
    bias = graph.tensor(bias_tensor).array().astype(np.int64) if bias_tensor is not None else None
    q = channel_requant(taps, bias, mult, shift, x.zero_point, y.zero_point)
    if not q.fast:
        return None
    sh, sw = o["stride_h"], o["stride_w"]
    out_h, out_w = y.shape[1], y.shape[2]
    plane_h = (out_h - 1) * sh + fh
    plane_w = ((out_w + 1) * sw + fw + 2 + 1) // 2 * 2
    taps3x3 = fh == 3 and fw == 3 and sw in (1, 2)
    if taps3x3:
        k = taps.reshape(out_c, 3, 3)
        pair = (k[:, :, 0] & 0xFFFF) | (k[:, :, 1] << 16)                # (w0, w1) as int16 halves
        words = np.stack([pair, k[:, :, 2]], axis=2).reshape(out_c, 6)
        weights = ConstArray("weights", "int32_t", to_int32(np.where(words >= 1 << 31, words - (1 << 32), words), "weights"))
    else:
        per = (fh * fw + 1) // 2 * 2
        padded = np.zeros((out_c, per), np.int64)
        padded[:, :fh * fw] = taps
        weights = ConstArray("weights", "int16_t", padded.astype(np.int16).ravel())
    return KernelCall(
        function="ta_depthwise_conv2d_s8_fast",
        sources=("fast/ta_depthwise_conv2d_s8_fast.c", "fast/ta_depthwise_conv2d_s8_fast.h", "fast/ta_dsp.h"),
        params_type="ta_depthwise_fast_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw), ("depth_multiplier", out_c // x.shape[3]),
            ("stride_h", sh), ("stride_w", sw), ("pad_top", pad_top), ("pad_left", pad_left),
            ("plane_h", plane_h), ("plane_w", plane_w), ("input_zero_point", x.zero_point),
            ("act_min", act_min), ("act_max", act_max), ("taps3x3", int(taps3x3)),
            ("bias", ConstRef("bias")), ("multiplier", ConstRef("mult")), ("shift", ConstRef("shift")),
            ("round", ConstRef("round")),
        ),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), TensorArg(op.outputs[0]), ScratchArg()),
        constants=(weights,
                   ConstArray("bias", "int32_t", q.bias), ConstArray("mult", "int32_t", q.multiplier),
                   ConstArray("shift", "int32_t", q.shift), ConstArray("round", "int32_t", q.round)),
        scratch_bytes=plane_h * plane_w * 2,
        macs=y.num_elements * fh * fw,
        # channel-planar: input channel c is read whole (into the plane) before output channel c is
        # written, and with one output channel per input channel those are the same bytes
        in_place=out_c == x.shape[3],
    )
