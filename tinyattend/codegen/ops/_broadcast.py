"""Broadcasting of two inputs to one output, up to 4 dimensions (no OP_TYPES)."""
from __future__ import annotations

from ..lowering import shape4, unsupported
from ._checks import fused_activation, int8_activations


MAX_RANK = 4              # the kernels' strides are 4-D


def broadcast_reason(op, graph) -> str:
    """'' when inputs 0 and 1 broadcast to exactly the output's shape (rank <= MAX_RANK)."""
    shapes = [graph.tensor(i).shape for i in (op.inputs[0], op.inputs[1], op.outputs[0])]
    if any(len(s) > MAX_RANK for s in shapes):
        return f"shapes {shapes[0]}, {shapes[1]} -> {shapes[2]}: at most {MAX_RANK} dimensions are supported"
    a, b, y = (shape4(s) for s in shapes)
    for da, db, dy in zip(a, b, y):
        if da not in (1, dy) or db not in (1, dy) or dy != max(da, db):
            return f"shapes {shapes[0]} and {shapes[1]} do not broadcast to the output's {shapes[2]}"
    return ""


def strides(in_shape, out_shape) -> tuple[int, int, int, int]:
    """Element strides of `in_shape` read along `out_shape`: 0 where the input broadcasts."""
    s_in, s_out = shape4(in_shape), shape4(out_shape)
    out, step = [0] * 4, 1
    for axis in range(3, -1, -1):
        out[axis] = 0 if (s_in[axis] == 1 and s_out[axis] != 1) else step
        step *= s_in[axis]
    return tuple(out)


def is_broadcast(x1, x2, y) -> bool:
    """True when either input must be read with broadcast strides (else a flat loop will do)."""
    return not (shape4(x1.shape) == shape4(x2.shape) == shape4(y.shape))


def broadcast_fields(x1, x2, y) -> tuple:
    """The params fields every element-wise kernel shares (see templates/kernels/elementwise/ta_broadcast.h)."""
    return (("size", y.num_elements), ("broadcast", int(is_broadcast(x1, x2, y))),
            ("out_dims", shape4(y.shape)),
            ("in1_strides", strides(x1.shape, y.shape)), ("in2_strides", strides(x2.shape, y.shape)))


def two_inputs_reason(op) -> str:
    return "" if len(op.inputs) == 2 and None not in op.inputs else f"{op.type} needs two inputs"


def arithmetic_reasons(op, graph) -> list[str]:
    """What ADD, SUB and MUL check first: two int8 inputs broadcasting to the output, and a fused
    activation TFLM applies."""
    if two_inputs_reason(op):
        return [two_inputs_reason(op)]
    int8 = int8_activations(op, graph, inputs=(0, 1))
    return unsupported([int8, fused_activation(op), "" if int8 else broadcast_reason(op, graph)])
