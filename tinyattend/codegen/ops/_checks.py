"""Constraint functions shared by op modules: each returns a reason string or ''."""
from __future__ import annotations

from ...ir.graph import Graph, Op


def int8_activations(op: Op, graph: Graph, inputs=(0,), outputs=(0,)) -> str:
    for slot in inputs:
        t = graph.tensor(op.inputs[slot])
        if t.dtype != "int8" or t.quant is None:
            return f"input {slot} is {t.dtype}{'' if t.quant else ' without quantization'}; only quantized int8 is supported"
    for slot in outputs:
        t = graph.tensor(op.outputs[slot])
        if t.dtype != "int8" or t.quant is None:
            return f"output {slot} is {t.dtype}; only quantized int8 is supported"
    return ""


def constant_input(op: Op, graph: Graph, slot: int, what: str) -> str:
    if slot >= len(op.inputs) or op.inputs[slot] is None:
        return f"the {what} is missing"
    if not graph.tensor(op.inputs[slot]).is_constant:
        return f"the {what} is not constant; only constant {what}s are supported"
    return ""


def fused_activation(op: Op) -> str:
    act = op.options.get("fused_activation_function", "NONE")
    if act not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        return f"fused activation {act} is not supported; use NONE, RELU, RELU6 or RELU_N1_TO_1"
    return ""


def rank_at_most(op: Op, graph: Graph, rank: int) -> str:
    for index in (*op.inputs, *op.outputs):
        if index is not None and len(graph.tensor(index).shape) > rank:
            return f"tensor {index} has rank {len(graph.tensor(index).shape)}; at most {rank} is supported"
    return ""


# The largest window (filter or dilated filter, in pixels), stride or padding a model may ask for: far
# beyond any real model, small enough that every window computation stays in 16-bit fields and 32-bit C.
MAX_WINDOW = 32767


def window_extent_problem(fh: int, fw: int, stride_h: int, stride_w: int, dilation_h: int = 1,
                          dilation_w: int = 1) -> str:
    """Filter sizes at least 1, and no dilated window or stride beyond MAX_WINDOW pixels."""
    if min(fh, fw) < 1:
        return f"window {fh}x{fw} has a size below 1"
    extent = max((fh - 1) * dilation_h + 1, (fw - 1) * dilation_w + 1)
    if extent > MAX_WINDOW or max(stride_h, stride_w) > MAX_WINDOW:
        return (f"window {fh}x{fw} with dilations {dilation_h}x{dilation_w} spans {extent:,} pixels (strides "
                f"{stride_h}x{stride_w}); more than {MAX_WINDOW:,} is a corrupt model")
    return ""


def weighted_op_shapes(op: Op, graph: Graph, weight_rank: int) -> str:
    """CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: weights, bias and output consistent.

    A malformed model must be refused here: the kernels trust these shapes.
    """
    if len(op.inputs) < 2 or op.inputs[0] is None or op.inputs[1] is None:
        return "the input or the weights are missing"
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if len(w.shape) != weight_rank:
        return f"weights have rank {len(w.shape)} {list(w.shape)}; {weight_rank} is required"
    if w.quant is None:
        return "the weights are not quantized; give a full-integer int8 model"
    out_channels = w.shape[0] if op.type in ("CONV_2D", "FULLY_CONNECTED") else w.shape[3]
    if op.type == "DEPTHWISE_CONV_2D" and w.shape[0] != 1:
        return f"depthwise weights {list(w.shape)} must be [1, filter_h, filter_w, output channels]"
    if len(w.quant.scale) not in (1, out_channels):
        return f"weights have {len(w.quant.scale)} scales for {out_channels} output channels"
    if any(z != 0 for z in w.quant.zero_point) and op.type != "FULLY_CONNECTED":
        return "weights must be symmetric (zero point 0)"
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        b = graph.tensor(op.inputs[2])
        if b.dtype != "int32":
            return f"the bias is {b.dtype}; int32 is required"
        if b.num_elements != out_channels or not b.is_constant:
            return f"the bias has {b.num_elements} values for {out_channels} output channels (or is not constant)"
        if len(b.shape) != 1:
            return f"the bias has shape {list(b.shape)}; TFLite biases are 1-D"
    if op.type == "FULLY_CONNECTED":
        depth = w.shape[1]
        if depth <= 0 or x.num_elements % depth:
            return f"input of {x.num_elements} values is not a whole number of rows of {depth}"
        if y.num_elements != x.num_elements // depth * out_channels:
            return f"output {list(y.shape)} does not hold {x.num_elements // depth} x {out_channels} values"
        return ""
    if len(x.shape) != 4 or len(y.shape) != 4:
        return f"input {list(x.shape)} and output {list(y.shape)} must be NHWC (rank 4)"
    if y.shape[3] != out_channels or y.shape[0] != x.shape[0]:
        return f"output {list(y.shape)} does not match the weights {list(w.shape)} and input {list(x.shape)}"
    from .padding import output_size
    o = op.options
    fh, fw = (w.shape[1], w.shape[2])
    if min(o.get("stride_h", 0), o.get("stride_w", 0), o.get("dilation_h_factor", 0), o.get("dilation_w_factor", 0)) < 1:
        return "strides and dilations must be at least 1"
    window = window_extent_problem(fh, fw, o["stride_h"], o["stride_w"], o["dilation_h_factor"], o["dilation_w_factor"])
    if window:
        return window
    if op.type == "DEPTHWISE_CONV_2D" and x.shape[3] and o.get("depth_multiplier", 0) not in (0, out_channels // x.shape[3]):
        # TFLM trusts the option (it is not checked in its release build); the shapes say otherwise.
        return (f"depth multiplier {o['depth_multiplier']} does not match the shapes: {x.shape[3]} input and "
                f"{out_channels} output channels (multiplier {out_channels // x.shape[3]})")
    if o["padding"] == "EXPLICIT":
        # a PAD folded in (graph_rewrites.fold_pad_into_conv): the padding after follows from the output size
        if min(o["pad_top"], o["pad_left"]) < 0 or min(y.shape[1:3]) < 1:
            return f"explicit padding ({o['pad_top']}, {o['pad_left']}) or output {list(y.shape)} out of range"
        expect = tuple(y.shape[1:3])
    else:
        expect = (output_size(o["padding"], x.shape[1], fh, o["stride_h"], o["dilation_h_factor"]),
                  output_size(o["padding"], x.shape[2], fw, o["stride_w"], o["dilation_w_factor"]))
    if tuple(y.shape[1:3]) != expect:
        return f"output size {list(y.shape[1:3])} does not follow from the input, window and strides ({list(expect)})"
    if op.type == "CONV_2D" and (w.shape[3] <= 0 or x.shape[3] < w.shape[3] or x.shape[3] % w.shape[3]
                                 or out_channels % (x.shape[3] // w.shape[3])):
        return f"input channels {x.shape[3]} are not a whole number of groups of {w.shape[3]}"
    if op.type == "DEPTHWISE_CONV_2D" and (x.shape[3] == 0 or out_channels % x.shape[3]):
        return f"output channels {out_channels} are not a multiple of input channels {x.shape[3]}"
    return ""
