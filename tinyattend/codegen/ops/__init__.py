"""One module per operator. Each defines:

    OP_TYPES: tuple[str, ...]                  TFLite builtin names it handles
    check(op, graph, target) -> list[str]      reasons it cannot run (empty: supported)
    lower(op, graph, target) -> KernelCall | Alias

and, where its kernel takes tensors up to some rank only,

    MAX_RANK: int                              the highest rank check() accepts

and nothing else needs to know about the op. `registry()` finds them all; the ONNX pre-check reads
MAX_RANK through `max_rank()` to refuse a model before conversion (tinyattend/convert/onnx_checks.py).
"""
from __future__ import annotations

from functools import lru_cache

from ..op_modules import modules_by_op_type


@lru_cache(maxsize=1)
def registry() -> dict:
    return modules_by_op_type(__path__, __name__)


def supported_op_types() -> list[str]:
    return sorted(registry())


def max_rank(op_type: str) -> int | None:
    """The highest tensor rank `op_type`'s kernel takes (its module's MAX_RANK); None when any rank is, or when
    the op has no module."""
    module = registry().get(op_type)
    return getattr(module, "MAX_RANK", None) if module is not None else None
