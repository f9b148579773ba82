"""What AVERAGE_POOL_2D and MAX_POOL_2D share: their checks and their window parameters."""
from __future__ import annotations

from ..lowering import dims, same_quant, unsupported
from ._checks import fused_activation, int8_activations, rank_at_most, window_extent_problem
from ._conv_quant import output_range
from .padding import output_size, padding_before


MAX_RANK = 4              # NHWC


def check_pool(op, graph) -> list[str]:
    reasons = [int8_activations(op, graph), fused_activation(op), rank_at_most(op, graph, MAX_RANK)]
    if not reasons[0] and not same_quant(graph, op.inputs[0], op.outputs[0]):
        reasons.append("input and output quantization differ; TFLite requires them equal")
    if not reasons[2] and len(graph.tensor(op.inputs[0]).shape) != 4:
        reasons.append(f"{op.type} needs a 4-D NHWC input")
    elif not reasons[2]:
        reasons.append(_window_problem(op, graph))
    return unsupported(reasons)


def _window_problem(op, graph) -> str:
    """Window, strides and output shape consistent: the kernels trust them."""
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    o = op.options
    fh, fw, sh, sw = (o.get(k, 0) for k in ("filter_height", "filter_width", "stride_h", "stride_w"))
    if min(sh, sw) < 1:
        return f"strides {sh}x{sw} must be at least 1"
    window = window_extent_problem(fh, fw, sh, sw)
    if window:
        return window
    if o.get("padding") not in ("SAME", "VALID"):
        return f"padding {o.get('padding')} is not SAME or VALID"
    expect = [x.shape[0], output_size(o["padding"], x.shape[1], fh, sh), output_size(o["padding"], x.shape[2], fw, sw),
              x.shape[3]]
    if len(y.shape) != 4 or list(y.shape) != expect:
        return f"output {list(y.shape)} does not follow from input {list(x.shape)}, window {fh}x{fw} and strides ({expect})"
    return ""


def pool_params(op, graph) -> tuple:
    """The window, strides, padding and activation range, as (field, value) pairs for ta_pool_params."""
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    o = op.options
    fh, fw = o["filter_height"], o["filter_width"]
    act_min, act_max = output_range(graph, op)
    return (
        ("input", dims(x.shape)), ("output", dims(y.shape)),
        ("filter_h", fh), ("filter_w", fw), ("stride_h", o["stride_h"]), ("stride_w", o["stride_w"]),
        ("pad_top", padding_before(o["padding"], x.shape[1], fh, o["stride_h"], 1, y.shape[1])),
        ("pad_left", padding_before(o["padding"], x.shape[2], fw, o["stride_w"], 1, y.shape[2])),
        ("act_min", act_min), ("act_max", act_max),
    )
