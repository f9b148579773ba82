"""AVERAGE_POOL_2D: int8, input and output share quantization."""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg
from ._fast import wants_fast
from ._pool import MAX_RANK, check_pool, pool_params  # noqa: F401 - MAX_RANK

OP_TYPES = ("AVERAGE_POOL_2D",)

# ta_avg_pool_s8_fast sums a window in 16-bit lanes: 256 int8 taps stay within [-32768, 32512]
FAST_MAX_TAPS = 256


def check(op, graph, target) -> list[str]:
    return check_pool(op, graph)


def lower(op, graph, target) -> KernelCall:
    y = graph.tensor(op.outputs[0])
    taps = op.options["filter_height"] * op.options["filter_width"]
    if wants_fast(target) and taps <= FAST_MAX_TAPS:
        return KernelCall(
            function="ta_avg_pool_s8_fast",
            sources=("fast/ta_avg_pool_s8_fast.c", "fast/ta_avg_pool_s8_fast.h", "pooling/ta_pool.h", "fast/ta_dsp.h"),
            params_type="ta_pool_params",
            params=pool_params(op, graph),
            args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
            macs=y.num_elements * taps,
        )
    return KernelCall(
        function="ta_avg_pool_s8",
        sources=("pooling/ta_avg_pool_s8.c", "pooling/ta_avg_pool_s8.h", "pooling/ta_pool.h"),
        params_type="ta_pool_params",
        params=pool_params(op, graph),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
    )
