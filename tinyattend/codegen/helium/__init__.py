"""Lowering to tinyattend's Helium (MVE) kernels (`--kernels helium`, what `auto` takes on an MVE core):
one module per operator, kernels under templates/kernels/mve/<family>/.

Each module has the shape of those in `codegen/ops/`:

    OP_TYPES: tuple[str, ...]
    check(op, graph, target) -> list[str]      why the Helium kernel cannot run it (empty: it can)
    lower(op, graph, target) -> KernelCall

`generate` uses the module here when its check passes, and otherwise the op's module in
`codegen/ops/`, which with this set takes the DSP `fast` kernels (they run on the M55 too).
The kernels compile to MVE intrinsics with integer MVE and to plain C elsewhere (the host
build), on the same constants, so both are bit-exact with TFLM.
"""
from __future__ import annotations

from functools import lru_cache

from ..op_modules import modules_by_op_type

KERNEL_SET = "helium"


@lru_cache(maxsize=1)
def registry() -> dict:
    return modules_by_op_type(__path__, __name__)
