"""FULLY_CONNECTED -> ta_fully_connected_s8_mve (templates/kernels/mve/fc): four channels per pass, sixteen
inputs per VMLADAVA."""
from __future__ import annotations

from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg
from ..ops import fully_connected as portable
from ..ops._conv_quant import channel_multipliers, output_range
from ._tables import SOURCES_COMMON, channel_bias, fits_int32, quad_blocks, quad_table

OP_TYPES = ("FULLY_CONNECTED",)
BLOCK = 16


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    x, w = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    if any(z != 0 for z in w.quant.zero_point):
        return ["weights with a non-zero zero point"]
    if not fits_int32(channel_bias(w.array(), _bias(op), graph, x.zero_point)):
        return ["the folded bias does not fit int32"]
    return []


def _bias(op):
    return op.inputs[2] if len(op.inputs) > 2 else None


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_depth, in_depth = w.shape
    mult, shift = channel_multipliers(graph, op, out_depth)     # a per-tensor scale repeated per channel
    act_min, act_max = output_range(graph, op)
    rows = w.array()
    row_len = -(-in_depth // BLOCK) * BLOCK
    bias = channel_bias(rows, _bias(op), graph, x.zero_point)
    return KernelCall(
        function="ta_fully_connected_s8_mve",
        sources=("mve/fc/ta_fully_connected_s8_mve.c", "mve/fc/ta_fully_connected_s8_mve.h", *SOURCES_COMMON),
        params_type="ta_fully_connected_mve_params",
        params=(
            ("batches", x.num_elements // in_depth), ("input_depth", in_depth), ("row_len", row_len),
            ("output_depth", out_depth), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), ConstRef("channel"), TensorArg(op.outputs[0])),
        constants=(ConstArray("weights", "int8_t", quad_blocks(rows, row_len)),
                   ConstArray("channel", "int32_t", quad_table(bias, mult, shift))),
        macs=(x.num_elements // in_depth) * in_depth * out_depth,
    )

