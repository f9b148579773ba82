"""DEPTH_TO_SPACE: int8 NHWC, block size b: output[n, h*b + dy, w*b + dx, c] = input[n, h, w, (dy*b + dx)*C + c].

TFLM copies the bytes whatever the two tensors' quantization, and so do we. The graph
rewrite of TRANSPOSE_CONV (codegen/graph_rewrites.py) also produces this op.
"""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg, dims, unsupported
from ._checks import int8_activations

OP_TYPES = ("DEPTH_TO_SPACE",)
MAX_RANK = 4              # NHWC only (the ONNX pre-check reads it too)


def check(op, graph, target) -> list[str]:
    if len(op.inputs) != 1 or op.inputs[0] is None or len(op.outputs) != 1:
        return ["DEPTH_TO_SPACE needs one input and one output"]
    reasons = [int8_activations(op, graph)]
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    block = int(op.options.get("block_size", 0))
    if len(x.shape) != 4 or len(y.shape) != 4:
        reasons.append(f"input {list(x.shape)} and output {list(y.shape)} must be NHWC (rank 4)")
    elif block < 1:
        reasons.append(f"block size {block} is not positive")
    else:
        n, h, w, c = x.shape
        if c % (block * block):
            reasons.append(f"input channels {c} are not a multiple of block size {block} squared")
        elif tuple(y.shape) != (n, h * block, w * block, c // (block * block)):
            reasons.append(f"output {list(y.shape)} is not input {list(x.shape)} rearranged by blocks of {block}")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x = graph.tensor(op.inputs[0])
    return KernelCall(
        function="ta_depth_to_space_s8",
        sources=("shape/ta_depth_to_space_s8.c", "shape/ta_depth_to_space_s8.h"),
        params_type="ta_depth_to_space_params",
        params=(("input", dims(x.shape)), ("block_size", int(op.options["block_size"]))),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
    )
