"""Lowering to Arm CMSIS-NN v7 (`--kernels cmsis-nn`): one module per operator.

Each module has the same shape as those in `codegen/ops/`:

    OP_TYPES: tuple[str, ...]
    check(op, graph, target) -> list[str]      why CMSIS-NN cannot run it (empty: it can)
    lower(op, graph, target) -> KernelCall     library="cmsis-nn", headers=("arm_nnfunctions.h",)

`generate` uses the module here when it exists and its check passes, and the
portable kernel otherwise. CMSIS-NN itself is never copied into tinyattend or
the generated model: builds take it from CMSIS_NN_PATH or fetch the pinned
release (see `build/cmsis_nn.py`). The struct contents follow TFLM's cmsis_nn kernels, so
the results are TFLM's bit for bit.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache


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


def cmsis_nn_op_types() -> list[str]:
    return sorted(registry())
