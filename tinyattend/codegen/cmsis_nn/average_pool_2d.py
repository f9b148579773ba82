"""AVERAGE_POOL_2D -> arm_avgpool_s8 (DSP builds accumulate in an int32-per-channel scratch buffer)."""
from __future__ import annotations

from . import _buffer_sizes as sizes
from . import _pooling
from ._structs import core

OP_TYPES = ("AVERAGE_POOL_2D",)


def check(op, graph, target) -> list[str]:
    return _pooling.check(op, graph)


def lower(op, graph, target):
    channels = graph.tensor(op.inputs[0]).shape[-1]
    return _pooling.lower(op, graph, "arm_avgpool_s8", sizes.avgpool_s8(core(target), channels))
