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
