"""RESHAPE (and SQUEEZE, EXPAND_DIMS): same bytes, new shape; no code at all."""
from __future__ import annotations

from ..lowering import Alias, same_quant, unsupported

OP_TYPES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def check(op, graph, target) -> list[str]:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    reasons = []
    if x.dtype != y.dtype or x.num_elements != y.num_elements:
        reasons.append(f"input {x.shape} {x.dtype} and output {y.shape} {y.dtype} differ in size or type")
    elif not same_quant(graph, op.inputs[0], op.outputs[0]):
        reasons.append("input and output quantization differ")
    return unsupported(reasons)


def lower(op, graph, target) -> Alias:
    return Alias(source=op.inputs[0])
