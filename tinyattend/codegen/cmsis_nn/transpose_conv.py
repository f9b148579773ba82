"""TRANSPOSE_CONV -> arm_transpose_conv_wrapper_s8 (int8, per-channel or per-tensor int8 filter).

The wrapper takes two contexts: the working buffer (arm_transpose_conv_s8_get_buffer_size:
im2col for the reverse-convolution path, rolling int32 accumulator rows otherwise) and the
reverse-convolution buffer, where it writes the filter flipped in x and y (filter-sized; only
on the reverse path, strides <= 2 and more than 16 input channels). Both live in this op's
scratch, placed by the arena planner: working buffer first, the reversed filter after it.
Padding and quantization are TFLM's; the activation range honours the fused activation, as
TFLM's reference kernel does.
"""
from __future__ import annotations

import numpy as np

from ...ir.quant import effective_scale, quantize_multiplier_array
from ...plan.liveness import align
from ..lowering import ConstArray, TensorArg, unsupported
from ..ops import transpose_conv as portable
from ..ops._conv_quant import output_range
from . import _buffer_sizes as sizes
from ._structs import activation, call, const_pointer, core, dims, name, struct, tile

OP_TYPES = ("TRANSPOSE_CONV",)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    return unsupported([direct_path_reason(op, graph)])


def direct_path_reason(op, graph) -> str:
    """Why arm_transpose_conv_s8 (the wrapper's path unless strides <= 2 and more than 16 input
    channels) would not give TFLM's reference result; '' when it would.

    Its rolling row buffer starts at the first output row only when the top padding is a whole
    number of strides, and it writes input_h * stride_h - pad_top rows, more than the output has
    when a VALID filter is shorter than its stride. (TFLM's cmsis_nn kernel calls it regardless.)
    """
    x, w, y = graph.tensor(op.inputs[portable.INPUT]), graph.tensor(op.inputs[portable.WEIGHTS]), graph.tensor(op.outputs[0])
    out_c, fh, fw, in_c = w.shape
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    if sizes.transpose_conv_reverse(in_c, sh, sw):
        return ""
    pad_h, pad_w = portable.transpose_padding(o["padding"], y.shape[1], y.shape[2], fh, fw, sh, sw)
    if pad_h % sh:
        return (f"top padding {pad_h} is not a multiple of stride {sh}: arm_transpose_conv_s8 misplaces rows "
                "(differs from TFLM's reference kernel)")
    if x.shape[1] * sh - pad_h > y.shape[1] or pad_w + y.shape[2] > (x.shape[2] - 1) * sw + max(fw, sw):
        return (f"output {list(y.shape)} is smaller than arm_transpose_conv_s8 writes for input {list(x.shape)}, "
                f"filter {fh}x{fw}, stride {sh}x{sw}")
    return ""


def _padding_offset(padding: str, image: int, f: int, s: int) -> int:
    """TFLM's ComputePaddingWithOffset remainder (total padding % 2); 0 where the out size fails."""
    out = (image + s - 1) // s if padding == "SAME" else portable._trunc_div(image + s - f, s)
    return max(0, (out - 1) * s + f - image) % 2 if out >= 0 else 0


def lower(op, graph, target):
    x = graph.tensor(op.inputs[portable.INPUT])
    w = graph.tensor(op.inputs[portable.WEIGHTS])
    y = graph.tensor(op.outputs[0])
    out_c, fh, fw, in_c = w.shape
    n, in_h, in_w, _ = x.shape
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    pad_h, pad_w = portable.transpose_padding(o["padding"], y.shape[1], y.shape[2], fh, fw, sh, sw)
    off_h = _padding_offset(o["padding"], y.shape[1], fh, sh)
    off_w = _padding_offset(o["padding"], y.shape[2], fw, sw)
    scales = w.quant.scale if len(w.quant.scale) == out_c else list(w.quant.scale) * out_c
    mult, shift = quantize_multiplier_array([effective_scale(x.scale, s, y.scale) for s in scales])
    act_min, act_max = output_range(graph, op)

    work = sizes.transpose_conv_s8(core(target), in_w=in_w, in_c=in_c, fh=fh, fw=fw, stride_h=sh, stride_w=sw,
                                   out_c=out_c)
    reverse = sizes.transpose_conv_reverse_s8(in_c=in_c, fh=fh, fw=fw, out_c=out_c, stride_h=sh, stride_w=sw)
    reverse_at = align(work)
    scratch = reverse_at + reverse if reverse else work
    offset = name(op, "scratch_offset")
    ctx = f"&(cmsis_nn_context){{.buf = arena + {offset}, .size = {work}}}"
    reverse_ctx = (f"&(cmsis_nn_context){{.buf = arena + {offset} + {reverse_at}, .size = {reverse}}}" if reverse
                   else "&(cmsis_nn_context){.buf = NULL, .size = 0}")
    bias_index = portable._bias(op)
    declarations = (
        f"enum {{ {offset} = {{arena_offset_scratch}} }};   /* arena offset of the scratch buffers */",
        struct("cmsis_nn_transpose_conv_params", name(op, "tconv"), {
            "input_offset": -x.zero_point, "output_offset": y.zero_point,
            "stride": tile(sh, sw), "padding": tile(pad_h, pad_w),
            "padding_offsets": tile(off_h + pad_h, off_w + pad_w), "dilation": tile(1, 1),
            "activation": activation(act_min, act_max)}),
        struct("cmsis_nn_per_channel_quant_params", name(op, "quant"), {
            "multiplier": const_pointer(f"ta_op{op.index}_mult"), "shift": const_pointer(f"ta_op{op.index}_shift")}),
        dims(name(op, "input_dims"), n, in_h, in_w, in_c),
        dims(name(op, "filter_dims"), out_c, fh, fw, in_c),
        dims(name(op, "bias_dims"), 1, 1, 1, out_c),
        dims(name(op, "output_dims"), n, y.shape[1], y.shape[2], out_c),
    )
    return call(
        "arm_transpose_conv_wrapper_s8",
        args=(ctx, reverse_ctx, f"&{name(op, 'tconv')}", f"&{name(op, 'quant')}",
              f"&{name(op, 'input_dims')}", TensorArg(op.inputs[portable.INPUT], const=True),
              f"&{name(op, 'filter_dims')}", TensorArg(op.inputs[portable.WEIGHTS], const=True),
              f"&{name(op, 'bias_dims')}",
              TensorArg(bias_index, const=True) if bias_index is not None else "NULL",
              f"&{name(op, 'output_dims')}", TensorArg(op.outputs[0])),
        constants=(ConstArray("mult", "int32_t", np.asarray(mult)), ConstArray("shift", "int32_t", np.asarray(shift))),
        declarations=declarations,
        scratch_bytes=scratch,
        macs=x.num_elements * out_c * fh * fw,
    )
