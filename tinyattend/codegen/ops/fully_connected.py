"""FULLY_CONNECTED: int8 with per-tensor or per-channel int8 weights."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, unsupported
from ._checks import constant_input, fused_activation, int8_activations, weighted_op_shapes
from ._conv_quant import channel_multipliers, output_range
from ._fast import channel_requant, split_bias, split_bytes, splittable, wants_fast

OP_TYPES = ("FULLY_CONNECTED",)


def check(op, graph, target) -> list[str]:
    shape_problem = "" if int8_activations(op, graph) or constant_input(op, graph, 1, "weights") \
        else weighted_op_shapes(op, graph, 2)
    if shape_problem:
        return [shape_problem]
    reasons = [int8_activations(op, graph), constant_input(op, graph, 1, "weights"), fused_activation(op)]
    if op.options.get("weights_format", 0) != 0:
        reasons.append("shuffled weights formats are not supported")
    if not reasons[1] and graph.tensor(op.inputs[1]).dtype != "int8":
        reasons.append("only int8 weights are supported")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_depth, in_depth = w.shape
    per_channel = w.quant.per_channel
    mult, shift = channel_multipliers(graph, op, out_depth if per_channel else 1)
    act_min, act_max = output_range(graph, op)
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if wants_fast(target) and all(z == 0 for z in w.quant.zero_point):
        return _lower_fast(op, graph, act_min, act_max, stage=target.optimize != "size")
    return KernelCall(
        function="ta_fully_connected_s8",
        sources=("fc/ta_fully_connected_s8.c", "fc/ta_fully_connected_s8.h"),
        params_type="ta_fully_connected_params",
        params=(
            ("batches", x.num_elements // in_depth), ("input_depth", in_depth), ("output_depth", out_depth),
            ("input_offset", -x.zero_point), ("weights_offset", -w.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max), ("per_channel", int(per_channel)),
            ("multiplier", ConstRef("mult")), ("shift", ConstRef("shift")),
        ),
        args=(TensorArg(op.inputs[0]), TensorArg(op.inputs[1], const=True),
              TensorArg(bias, const=True) if bias is not None else "NULL", TensorArg(op.outputs[0])),
        constants=(ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift)),
        macs=(x.num_elements // in_depth) * in_depth * out_depth,
    )


def _lower_fast(op, graph, act_min, act_max, stage: bool) -> KernelCall:
    """Four channels per pass, eight inputs per step (templates/kernels/fast/ta_fully_connected_s8_fast.c)."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_depth, in_depth = w.shape
    mult, shift = channel_multipliers(graph, op, out_depth)     # per channel, a per-tensor scale repeated
    rows = w.array().astype(np.int64)
    bias_tensor = op.inputs[2] if len(op.inputs) > 2 else None
    bias = graph.tensor(bias_tensor).array().astype(np.int64) if bias_tensor is not None else None
    q = channel_requant(rows, bias, mult, shift, x.zero_point, y.zero_point)
    # A per-tensor scale gives every channel the same constants (dead channels aside): store them once.
    shared = len(set(zip(q.multiplier.tolist(), q.shift.tolist(), q.round.tolist()))) == 1
    requant = [(name, values[:1] if shared else values)
               for name, values in (("mult", q.multiplier), ("shift", q.shift), ("round", q.round))]
    row_len = (in_depth + 7) // 8 * 8
    # Split weights (see ta_fully_connected_s8_fast.h) need every odd weight's negation in int8.
    split = splittable(rows)
    # Split weights' inputs staged (unpacked once per row, 2 bytes per input) unless --optimize size or
    # that more than doubles what the layer holds: 1.25 -> 0.94 instructions per MAC on the steps.
    staged_bytes = 2 * row_len + 16 if stage and split and 2 * row_len <= in_depth + out_depth else 0
    padded_bias = np.zeros((out_depth + 3) // 4 * 4, np.int32)
    padded_bias[:out_depth] = split_bias(q.bias, rows) if split else q.bias
    return KernelCall(
        function="ta_fully_connected_s8_fast",
        sources=("fast/ta_fully_connected_s8_fast.c", "fast/ta_fully_connected_s8_fast.h", "fast/ta_dsp.h"),
        params_type="ta_fully_connected_fast_params",
        params=(
            ("batches", x.num_elements // in_depth), ("input_depth", in_depth), ("row_len", row_len),
            ("output_depth", out_depth), ("act_min", act_min), ("act_max", act_max),
            ("output_offset", y.zero_point), ("fast_requant", int(q.fast)), ("per_channel", int(not shared)),
            ("bias", ConstRef("bias")), ("multiplier", ConstRef("mult")), ("shift", ConstRef("shift")),
            ("round", ConstRef("round")), ("split_weights", int(split)),
        ),
        args=(TensorArg(op.inputs[0]), ConstRef("weights"), TensorArg(op.outputs[0]),
              ScratchArg() if staged_bytes else "NULL"),
        # staged inputs; with one set of constants and int8's whole range, whole passes in a function of their
        # own (the kernel also needs the short requantization and a multiplier >= 0 for that: a superset here)
        paths=(("TA_PATH_FC_STAGED",) if staged_bytes else ())
              + (("TA_PATH_FC_STAGED_PASSES",) if staged_bytes and shared and act_min == -128 and act_max == 127
                 else ()),
        scratch_bytes=staged_bytes,
        constants=(ConstArray("weights", "int8_t", quad_layout(split_bytes(rows) if split else rows, row_len)),
                   ConstArray("bias", "int32_t", padded_bias),
                   *(ConstArray(name, "int32_t", values) for name, values in requant)),
        macs=(x.num_elements // in_depth) * in_depth * out_depth,
    )


def quad_layout(rows: np.ndarray, row_len: int) -> np.ndarray:
    """[out][in] int8 weights as the fast kernel walks them: per group of four output channels (zero rows
    pad the last) and per group of eight inputs (zeros pad the row), the four channels' eight weights."""
    out_depth, in_depth = rows.shape
    padded = np.zeros(((out_depth + 3) // 4 * 4, row_len), np.int8)
    padded[:out_depth, :in_depth] = rows
    quads = padded.reshape(-1, 4, row_len // 8, 8)            # [quad][channel][step][8]
    return np.ascontiguousarray(quads.transpose(0, 2, 1, 3)).reshape(-1)
