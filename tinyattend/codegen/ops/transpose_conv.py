"""TRANSPOSE_CONV: int8 with per-channel (or per-tensor) int8 weights and optional int32 bias.

Inputs as in TFLite: 0 output shape (int32 constant), 1 weights [O][H][W][I], 2 input, 3 bias.
The int32 accumulators live in a scratch buffer the arena planner places.
"""
from __future__ import annotations

import numpy as np

from ...ir.quant import effective_scale, quantize_multiplier_array
from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, dims, unsupported
from ._checks import constant_input, fused_activation
from ._conv_quant import output_range

OP_TYPES = ("TRANSPOSE_CONV",)
MAX_RANK = 4              # NHWC only (the ONNX pre-check reads it too)
OUTPUT_SHAPE, WEIGHTS, INPUT, BIAS = 0, 1, 2, 3
MAX_TERMS = (1 << 31) // (255 * 128)   # products summed into one accumulator, overflow-free below this


def _bias(op):
    return op.inputs[BIAS] if len(op.inputs) > BIAS else None


def check(op, graph, target) -> list[str]:
    if len(op.inputs) < 3 or op.inputs[INPUT] is None or len(op.outputs) != 1:
        return ["TRANSPOSE_CONV needs output shape, weights and input tensors and one output"]
    x, y = graph.tensor(op.inputs[INPUT]), graph.tensor(op.outputs[0])
    reasons = [constant_input(op, graph, WEIGHTS, "filter"), fused_activation(op)]
    for what, t in (("input", x), ("output", y)):
        if t.dtype != "int8" or t.quant is None:
            reasons.append(f"{what} is {t.dtype}; only quantized int8 is supported")
        elif t.quant.per_channel:
            reasons.append(f"{what} has per-channel quantization")
        if len(t.shape) != 4:
            reasons.append(f"{what} has rank {len(t.shape)}; TRANSPOSE_CONV needs NHWC rank 4")
    if reasons[0]:
        return unsupported(reasons)
    w = graph.tensor(op.inputs[WEIGHTS])
    if w.dtype != "int8" or w.quant is None:
        reasons.append(f"filter is {w.dtype}; only quantized int8 filters are supported")
    elif len(w.shape) != 4:
        reasons.append(f"filter has rank {len(w.shape)}; 4 is needed")
    elif len(x.shape) == 4 and len(y.shape) == 4:
        out_c, fh, fw, in_c = w.shape
        if in_c != x.shape[3] or out_c != y.shape[3] or x.shape[0] != y.shape[0]:
            reasons.append(f"filter {w.shape}, input {x.shape} and output {y.shape} do not match")
        if min(w.shape) <= 0:
            reasons.append(f"filter shape {w.shape} has an empty dimension")
        if len(w.quant.scale) not in (1, out_c) or w.quant.axis != 0:
            reasons.append("filter quantization must be per tensor or per output channel (axis 0)")
        if any(z != 0 for z in w.quant.zero_point):
            reasons.append("filter zero points must be 0 (symmetric int8 weights)")
        if in_c * fh * fw > MAX_TERMS:
            reasons.append(f"filter {w.shape} sums more than {MAX_TERMS} products per output (int32 accumulator)")
    if op.options.get("stride_h", 1) <= 0 or op.options.get("stride_w", 1) <= 0:
        reasons.append("strides must be positive")
    if op.options.get("padding") not in ("SAME", "VALID"):
        reasons.append(f"padding {op.options.get('padding')} is not SAME or VALID")
    bias = _bias(op)
    if bias is not None:
        b = graph.tensor(bias)
        if b.dtype != "int32" or not b.is_constant or b.num_elements != y.shape[-1]:
            reasons.append("bias must be a constant int32 vector with one value per output channel")
    return unsupported(reasons)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def transpose_padding(padding: str, out_h: int, out_w: int, fh: int, fw: int, sh: int, sw: int) -> tuple[int, int]:
    """TFLM's ComputePaddingHeightWidth with the *output* size as the image size; (0, 0) where it fails."""
    def out_size(image, f, s):
        value = (image + s - 1) // s if padding == "SAME" else _trunc_div(image + s - f, s)
        return value if value >= 0 else None
    ow, oh = out_size(out_w, fw, sw), out_size(out_h, fh, sh)
    if ow is None or oh is None:
        return 0, 0
    pad_h = max(0, (oh - 1) * sh + fh - out_h) // 2
    pad_w = max(0, (ow - 1) * sw + fw - out_w) // 2
    return pad_h, pad_w


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[INPUT]), graph.tensor(op.inputs[WEIGHTS]), graph.tensor(op.outputs[0])
    out_c, fh, fw, _ = w.shape
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    scales = w.quant.scale if len(w.quant.scale) == out_c else w.quant.scale * out_c
    mult, shift = quantize_multiplier_array([effective_scale(x.scale, s, y.scale) for s in scales])
    act_min, act_max = output_range(graph, op)
    pad_top, pad_left = transpose_padding(o["padding"], y.shape[1], y.shape[2], fh, fw, sh, sw)
    bias = _bias(op)
    return KernelCall(
        function="ta_transpose_conv_s8",
        sources=("conv/ta_transpose_conv_s8.c", "conv/ta_transpose_conv_s8.h"),
        params_type="ta_transpose_conv_params",
        params=(
            ("input", dims(x.shape)), ("output", dims(y.shape)),
            ("filter_h", fh), ("filter_w", fw), ("stride_h", sh), ("stride_w", sw),
            ("pad_top", pad_top), ("pad_left", pad_left),
            ("input_offset", -x.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max),
            ("multiplier", ConstRef("mult")), ("shift", ConstRef("shift")),
        ),
        args=(TensorArg(op.inputs[INPUT], const=True), TensorArg(op.inputs[WEIGHTS], const=True),
              TensorArg(bias, const=True) if bias is not None else "NULL", TensorArg(op.outputs[0]), ScratchArg()),
        constants=(ConstArray("mult", "int32_t", np.asarray(mult)), ConstArray("shift", "int32_t", np.asarray(shift))),
        scratch_bytes=y.num_elements * 4,
        macs=x.num_elements * out_c * fh * fw,
    )
