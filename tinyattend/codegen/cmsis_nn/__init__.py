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


def folds_pad(conv, graph, target) -> bool:
    """Whether a PAD may fold into `conv` (given rewritten, graph_rewrites.fold_pad_into_conv) under
    --kernels cmsis-nn: CMSIS-NN still runs the conv, and the library kernel it dispatches to pads
    with the input zero point wherever the field leaves the image (bounds checks on every tap), so
    the padding need not be one TFLM's SAME would give. The module's `takes_any_padding` says where
    that does not hold."""
    module = registry().get(conv.type)
    if module is None or module.check(conv, graph, target):
        return False
    takes_any_padding = getattr(module, "takes_any_padding", None)
    return takes_any_padding is None or takes_any_padding(conv, graph)
