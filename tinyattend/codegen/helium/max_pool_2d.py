"""MAX_POOL_2D -> ta_max_pool_s8_mve (templates/kernels/mve/pooling): sixteen channels per vector, the portable
kernel's parameters."""
from __future__ import annotations

from dataclasses import replace

from ..ops import max_pool_2d as portable
from ._tables import SOURCES_COMMON

OP_TYPES = ("MAX_POOL_2D",)


def check(op, graph, target) -> list[str]:
    return portable.check(op, graph, target)


def lower(op, graph, target):
    return replace(portable.lower(op, graph, target), function="ta_max_pool_s8_mve",
                   sources=("mve/pooling/ta_max_pool_s8_mve.c", "mve/pooling/ta_max_pool_s8_mve.h",
                            "pooling/ta_pool.h", *SOURCES_COMMON))
