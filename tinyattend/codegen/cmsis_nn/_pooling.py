"""AVERAGE_POOL_2D and MAX_POOL_2D share their structs (TFLM's cmsis_nn PopulateCommonParams)."""
from __future__ import annotations

from ..lowering import TensorArg, same_quant, unsupported
from ..ops._checks import fused_activation, int8_activations
from ..ops._conv_quant import output_range
from ..ops.padding import padding_before
from ._structs import activation, call, context, dims, name, struct, tile


def check(op, graph) -> list[str]:
    reasons = [int8_activations(op, graph), fused_activation(op)]
    if not reasons[0] and not same_quant(graph, op.inputs[0], op.outputs[0]):
        reasons.append("input and output quantization differ; TFLite requires them equal")
    if not reasons[0] and len(graph.tensor(op.inputs[0]).shape) != 4:
        reasons.append("pooling needs a rank-4 NHWC input")
    return unsupported(reasons)


def lower(op, graph, function: str, scratch: int):
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    o = op.options
    fh, fw = o["filter_height"], o["filter_width"]
    act_min, act_max = output_range(graph, op)
    pad_h = padding_before(o["padding"], x.shape[1], fh, o["stride_h"], 1, y.shape[1])
    pad_w = padding_before(o["padding"], x.shape[2], fw, o["stride_w"], 1, y.shape[2])
    ctx_decls, ctx = context(op, scratch)
    declarations = (
        struct("cmsis_nn_pool_params", name(op, "pool"), {
            "stride": tile(o["stride_h"], o["stride_w"]), "padding": tile(pad_h, pad_w),
            "activation": activation(act_min, act_max)}),
        dims(name(op, "input_dims"), *x.shape),
        dims(name(op, "filter_dims"), 1, fh, fw, 1),
        dims(name(op, "output_dims"), *y.shape),
    ) + ctx_decls
    return call(
        function,
        args=(ctx, f"&{name(op, 'pool')}", f"&{name(op, 'input_dims')}", TensorArg(op.inputs[0], const=True),
              f"&{name(op, 'filter_dims')}", f"&{name(op, 'output_dims')}", TensorArg(op.outputs[0])),
        declarations=declarations,
        scratch_bytes=scratch,
    )
