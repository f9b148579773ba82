"""MAX_POOL_2D -> arm_max_pool_s8 (no scratch)."""
from __future__ import annotations

from . import _pooling

OP_TYPES = ("MAX_POOL_2D",)


def check(op, graph, target) -> list[str]:
    return _pooling.check(op, graph)


def lower(op, graph, target):
    return _pooling.lower(op, graph, "arm_max_pool_s8", 0)
