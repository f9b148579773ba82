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

from functools import lru_cache

from ..op_modules import modules_by_op_type


@lru_cache(maxsize=1)
def registry() -> dict:
    return modules_by_op_type(__path__, __name__)


def cmsis_nn_op_types() -> list[str]:
    return sorted(registry())
