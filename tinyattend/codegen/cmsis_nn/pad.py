"""PAD and PADV2 -> arm_pad_s8 (int8, rank up to 4, constant non-negative paddings), as TFLM's cmsis_nn kernel.

Dimensions and paddings are right-aligned into (n, h, w, c), missing leading ones being 1
(sizes) and 0 (paddings); the pad value is the output zero point or PADV2's constant.
"""
from __future__ import annotations

from ..lowering import TensorArg, shape4, unsupported
from ..ops import pad as portable
from ._structs import call, dims, name

OP_TYPES = ("PAD", "PADV2")


def check(op, graph, target) -> list[str]:
    return unsupported(portable.check(op, graph, target))


def lower(op, graph, target):
    x = graph.tensor(op.inputs[0])
    pads = graph.tensor(op.inputs[1]).array().reshape(-1, 2)
    lead = [0] * (4 - len(x.shape))
    before = lead + [int(v) for v in pads[:, 0]]
    after = lead + [int(v) for v in pads[:, 1]]
    declarations = (
        dims(name(op, "input_dims"), *shape4(x.shape)),
        dims(name(op, "pre_pad"), *before),
        dims(name(op, "post_pad"), *after),
    )
    return call(
        "arm_pad_s8",
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0]), portable.pad_value(op, graph),
              f"&{name(op, 'input_dims')}", f"&{name(op, 'pre_pad')}", f"&{name(op, 'post_pad')}"),
        declarations=declarations,
    )
