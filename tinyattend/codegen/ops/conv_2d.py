"""CONV_2D: int8 convolution with per-channel int8 weights and int32 bias."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims, unsupported
from ._checks import constant_input, fused_activation, int8_activations, weighted_op_shapes
from ._conv_quant import channel_multipliers, output_range
from ._fast import channel_requant, pair_rows, wants_fast
from ._overlap import conv_overlap
from .padding import padding_before

OP_TYPES = ("CONV_2D",)


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


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, fh, fw, depth = w.shape
    o = op.options
    mult, shift = channel_multipliers(graph, op, out_c)
    act_min, act_max = output_range(graph, op)
    pad_top = padding_before(o["padding"], x.shape[1], fh, o["stride_h"], o["dilation_h_factor"], y.shape[1])
    pad_left = padding_before(o["padding"], x.shape[2], fw, o["stride_w"], o["dilation_w_factor"], y.shape[2])
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if wants_fast(target) and depth == x.shape[3]:
        return _lower_fast(op, graph, pad_top, pad_left, mult, shift, act_min, act_max)
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


def _lower_fast(op, graph, pad_top, pad_left, mult, shift, act_min, act_max) -> KernelCall:
    """im2col + 2x2 SMLAD tile (templates/kernels/fast/ta_conv2d_s8_fast.c)."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, fh, fw, depth = w.shape
    o = op.options
    row = fh * fw * depth
    row_len = (row + 3) // 4 * 4
    rows = w.array().reshape(out_c, row)
    padded = np.zeros((out_c, row_len), np.int8)
    padded[:, :row] = rows
    paired = pair_rows(padded)
    bias_tensor = op.inputs[2] if len(op.inputs) > 2 else None
    bias = graph.tensor(bias_tensor).array().astype(np.int64) if bias_tensor is not None else None
    q = channel_requant(rows, bias, mult, shift, x.zero_point, y.zero_point)
    return KernelCall(
        function="ta_conv2d_s8_fast",
        sources=("fast/ta_conv2d_s8_fast.c", "fast/ta_conv2d_s8_fast.h", "fast/ta_dsp.h"),
        params_type="ta_conv2d_fast_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw),
            ("stride_h", o["stride_h"]), ("stride_w", o["stride_w"]),
            ("dilation_h", o["dilation_h_factor"]), ("dilation_w", o["dilation_w_factor"]),
            ("pad_top", pad_top), ("pad_left", pad_left), ("row_len", row_len),
            ("input_zero_point", x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max), ("fast_requant", int(q.fast)),
            ("bias", ConstRef("bias")), ("multiplier", ConstRef("mult")), ("shift", ConstRef("shift")),
            ("round", ConstRef("round")),
        ),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), TensorArg(op.outputs[0]), ScratchArg()),
        constants=(ConstArray("weights", "int8_t", paired.ravel()), ConstArray("bias", "int32_t", q.bias),
                   ConstArray("mult", "int32_t", q.multiplier), ConstArray("shift", "int32_t", q.shift),
                   ConstArray("round", "int32_t", q.round)),
        scratch_bytes=2 * row_len * 2 + (0 if depth % 4 == 0 else row_len),
        macs=y.num_elements * fh * fw * depth,
        overlap=conv_overlap(op, graph, pad_top, pad_left),
    )
