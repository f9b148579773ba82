"""TRANSPOSE -> arm_transpose_s8 (int8, rank 1 to 4, constant permutation), as TFLM's cmsis_nn kernel.

TFLM hands the library the tensor's dimensions in order (n, h, w, c = dims 0..3, unused ones
ignored by the library) and the permutation's length as `num_dims`; so does this module.
"""
from __future__ import annotations

from ..lowering import TensorArg, unsupported
from ..ops import transpose as portable
from ._structs import call, core, dims, name, struct

OP_TYPES = ("TRANSPOSE",)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    perm = portable._perm(op, graph)
    if not perm:
        return ["a rank-0 transpose has no permutation for arm_transpose_s8"]
    if core(target) == "mve" and perm == [0, 1, 2, 3]:
        # The MVE path takes every 4-D permutation that keeps axes 0 and 1 for {0, 1, 3, 2}.
        return ["the identity permutation is not handled by arm_transpose_s8's MVE path"]
    return unsupported([])


def _dims4(shape) -> tuple[int, int, int, int]:
    """The first four dimensions in order, then 1s: how TFLM fills cmsis_nn_dims for TRANSPOSE."""
    return tuple(shape) + (1,) * (4 - len(shape))


def lower(op, graph, target):
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    perm = portable._perm(op, graph)
    perm_name = name(op, "perm")
    declarations = (
        f"static const uint32_t {perm_name}[{len(perm)}] = {{{', '.join(str(p) for p in perm)}}};",
        struct("cmsis_nn_transpose_params", name(op, "transpose"),
               {"num_dims": len(perm), "permutations": perm_name}),
        dims(name(op, "input_dims"), *_dims4(x.shape)),
        dims(name(op, "output_dims"), *_dims4(y.shape)),
    )
    return call(
        "arm_transpose_s8",
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0]),
              f"&{name(op, 'input_dims')}", f"&{name(op, 'output_dims')}", f"&{name(op, 'transpose')}"),
        declarations=declarations,
    )
