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

import importlib
import pkgutil
from functools import lru_cache


@lru_cache(maxsize=1)
def registry() -> dict:
    table = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for op_type in getattr(module, "OP_TYPES", ()):
            if op_type in table:
                raise RuntimeError(f"{op_type} is claimed by {table[op_type].__name__} and {module.__name__}")
            table[op_type] = module
    return table


def supported_op_types() -> list[str]:
    return sorted(registry())


def max_rank(op_type: str) -> int | None:
    """The highest tensor rank `op_type`'s kernel takes (its module's MAX_RANK); None when any rank is, or when
    the op has no module."""
    module = registry().get(op_type)
    return getattr(module, "MAX_RANK", None) if module is not None else None
