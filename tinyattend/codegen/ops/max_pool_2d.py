"""MAX_POOL_2D: int8, input and output share quantization; fused activation as a clamp."""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg
from ._fast import wants_fast
from ._pool import MAX_RANK, check_pool, pool_params  # noqa: F401 - MAX_RANK

OP_TYPES = ("MAX_POOL_2D",)


def check(op, graph, target) -> list[str]:
    return check_pool(op, graph)


def lower(op, graph, target) -> KernelCall:
    y = graph.tensor(op.outputs[0])
    if wants_fast(target):
        return KernelCall(
            function="ta_max_pool_s8_fast",
            sources=("fast/ta_max_pool_s8_fast.c", "fast/ta_max_pool_s8_fast.h", "pooling/ta_pool.h", "fast/ta_dsp.h"),
            params_type="ta_pool_params",
            params=pool_params(op, graph),
            args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
            macs=y.num_elements * op.options["filter_height"] * op.options["filter_width"],
        )
    return KernelCall(
        function="ta_max_pool_s8",
        sources=("pooling/ta_max_pool_s8.c", "pooling/ta_max_pool_s8.h", "pooling/ta_pool.h"),
        params_type="ta_pool_params",
        params=pool_params(op, graph),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
        macs=y.num_elements * op.options["filter_height"] * op.options["filter_width"],
    )
