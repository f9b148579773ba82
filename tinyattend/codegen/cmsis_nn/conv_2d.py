"""CONV_2D -> arm_convolve_wrapper_s8 (per-channel int8; the wrapper picks 1x1, 1xN or im2col)."""
from __future__ import annotations

from ..lowering import TensorArg, unsupported
from ..ops import conv_2d as portable
from ..ops._conv_quant import output_range
from ..ops.padding import conv_padding
from . import _buffer_sizes as sizes
from ._conv_common import bias_arg, per_channel_constants, weights_reasons
from ._structs import activation, call, const_pointer, context, core, dims, name, struct, tile

OP_TYPES = ("CONV_2D",)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    return unsupported(weights_reasons(op, graph, "filter"))


def takes_any_padding(op, graph) -> bool:
    """Every path of arm_convolve_wrapper_s8 bounds-checks the padding but arm_convolve_1_x_n_s8
    (input and filter one row high), which on MVE fails unless the padding splits as SAME's does."""
    return not (graph.tensor(op.inputs[0]).shape[1] == 1 and graph.tensor(op.inputs[1]).shape[1] == 1)


def geometry(op, graph) -> dict:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    o = op.options
    _, fh, fw, _ = w.shape
    pad_h, pad_w = conv_padding(o, x.shape, fh, fw, y.shape)     # SAME/VALID, or a PAD folded in
    return dict(fh=fh, fw=fw, stride_h=o["stride_h"], stride_w=o["stride_w"],
                dil_h=o["dilation_h_factor"], dil_w=o["dilation_w_factor"], pad_h=pad_h, pad_w=pad_w)


def lower(op, graph, target):
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_c, fh, fw, depth = w.shape
    n, in_h, in_w, in_c = x.shape
    g = geometry(op, graph)
    act_min, act_max = output_range(graph, op)
    mult, shift = per_channel_constants(graph, op, out_c)
    bias, bias_constants = bias_arg(op, out_c)
    scratch = sizes.conv_wrapper_s8(core(target), in_h=in_h, in_w=in_w, in_c=in_c, fh=fh, fw=fw,
                                    pad_h=g["pad_h"], pad_w=g["pad_w"], stride_h=g["stride_h"],
                                    stride_w=g["stride_w"], dil_h=g["dil_h"], dil_w=g["dil_w"], out_w=y.shape[2])
    ctx_decls, ctx = context(op, scratch)
    declarations = (
        struct("cmsis_nn_conv_params", name(op, "conv"), {
            "input_offset": -x.zero_point, "output_offset": y.zero_point,
            "stride": tile(g["stride_h"], g["stride_w"]), "padding": tile(g["pad_h"], g["pad_w"]),
            "dilation": tile(g["dil_h"], g["dil_w"]), "activation": activation(act_min, act_max)}),
        struct("cmsis_nn_per_channel_quant_params", name(op, "quant"), {
            "multiplier": const_pointer(f"ta_op{op.index}_mult"), "shift": const_pointer(f"ta_op{op.index}_shift")}),
        dims(name(op, "input_dims"), n, in_h, in_w, in_c),
        dims(name(op, "filter_dims"), 1, fh, fw, depth),
        dims(name(op, "bias_dims"), 1, 1, 1, out_c),
        dims(name(op, "output_dims"), *y.shape),
    ) + ctx_decls
    return call(
        "arm_convolve_wrapper_s8",
        args=(ctx, f"&{name(op, 'conv')}", f"&{name(op, 'quant')}",
              f"&{name(op, 'input_dims')}", TensorArg(op.inputs[0], const=True),
              f"&{name(op, 'filter_dims')}", TensorArg(op.inputs[1], const=True),
              f"&{name(op, 'bias_dims')}", bias,
              f"&{name(op, 'output_dims')}", TensorArg(op.outputs[0])),
        constants=(mult, shift, *bias_constants),
        declarations=declarations,
        scratch_bytes=scratch,
        macs=y.num_elements * fh * fw * depth,
    )
