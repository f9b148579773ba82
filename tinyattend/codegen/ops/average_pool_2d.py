"""AVERAGE_POOL_2D: int8, input and output share quantization."""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg
from ._pool import MAX_RANK, check_pool, pool_params  # noqa: F401 - MAX_RANK

OP_TYPES = ("AVERAGE_POOL_2D",)


def check(op, graph, target) -> list[str]:
    return check_pool(op, graph)


def lower(op, graph, target) -> KernelCall:
    return KernelCall(
        function="ta_avg_pool_s8",
        sources=("pooling/ta_avg_pool_s8.c", "pooling/ta_avg_pool_s8.h", "pooling/ta_pool.h"),
        params_type="ta_pool_params",
        params=pool_params(op, graph),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
    )
