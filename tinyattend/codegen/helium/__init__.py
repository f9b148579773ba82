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

import importlib
import pkgutil
from functools import lru_cache

KERNEL_SET = "helium"


@lru_cache(maxsize=1)
def registry() -> dict:
    table = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for op_type in getattr(module, "OP_TYPES", ()):
            if op_type in table:
                raise RuntimeError(f"{op_type} is claimed by {table[op_type].__name__} and {module.__name__}")
            table[op_type] = module
    return table
