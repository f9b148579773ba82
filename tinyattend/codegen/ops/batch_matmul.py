"""BATCH_MATMUL: int8 x int8 -> int8 (both operands may be activations), adj_x/adj_y, batch broadcasting."""
from __future__ import annotations

import numpy as np

from ...ir.quant import quantize_multiplier
from ..lowering import KernelCall, ScratchArg, TensorArg, unsupported
from ._checks import int8_activations
from ._fast import ACC_LIMIT, round_constants, wants_fast

OP_TYPES = ("BATCH_MATMUL",)
MAX_RANK = 5                      # TFLM supports ranks 2..5
MAX_DEPTH = (1 << 31) // (255 * 255)   # the int32 accumulator cannot overflow below this depth


def _extended(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (MAX_RANK - len(shape)) + tuple(shape)


def _geometry(op, graph):
    """(batch dims, rows, depth, cols, expected output shape) or a reason string."""
    lhs, rhs, y = (graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    for name, t in (("lhs", lhs), ("rhs", rhs)):
        if not 2 <= len(t.shape) <= MAX_RANK:
            return f"{name} has rank {len(t.shape)}; ranks 2 to {MAX_RANK} are supported"
    adj_x, adj_y = bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))
    el, er = _extended(lhs.shape), _extended(rhs.shape)
    batch = []
    for a, b in zip(el[:3], er[:3]):
        if a != b and a != 1 and b != 1:
            return f"batch dimensions of {lhs.shape} and {rhs.shape} do not broadcast"
        batch.append(b if a == 1 else a)
    rows, depth = (el[4], el[3]) if adj_x else (el[3], el[4])
    depth_r, cols = (er[4], er[3]) if adj_y else (er[3], er[4])
    if depth != depth_r:
        return f"inner dimensions differ: lhs {lhs.shape} (adj_x={adj_x}), rhs {rhs.shape} (adj_y={adj_y})"
    rank = max(len(lhs.shape), len(rhs.shape))
    expected = (*batch, rows, cols)[MAX_RANK - rank:]
    return batch, rows, depth, cols, expected


def check(op, graph, target) -> list[str]:
    if len(op.inputs) != 2 or None in op.inputs or len(op.outputs) != 1:
        return ["BATCH_MATMUL needs exactly two inputs and one output"]
    reasons = [int8_activations(op, graph, inputs=(0, 1))]
    if reasons[0]:
        return unsupported(reasons)
    for slot, index in (("lhs", op.inputs[0]), ("rhs", op.inputs[1]), ("output", op.outputs[0])):
        if graph.tensor(index).quant.per_channel:
            reasons.append(f"{slot} has per-channel quantization; BATCH_MATMUL needs per-tensor")
    geometry = _geometry(op, graph)
    if isinstance(geometry, str):
        reasons.append(geometry)
    else:
        _, _, depth, _, expected = geometry
        y = graph.tensor(op.outputs[0])
        if tuple(y.shape) != tuple(expected):
            reasons.append(f"output shape {y.shape} should be {expected}")
        if depth > MAX_DEPTH:
            reasons.append(f"accumulation depth {depth} exceeds {MAX_DEPTH} (int32 accumulator)")
    return unsupported(reasons)


def _batch_strides(shape: tuple[int, ...], matrix: int) -> tuple[int, int, int]:
    e = _extended(shape)
    strides = [0, 0, 0]
    step = matrix
    for axis in (2, 1, 0):
        strides[axis] = 0 if e[axis] == 1 else step
        step *= e[axis]
    return tuple(strides)


def output_multiplier(lhs, rhs, y) -> tuple[int, int]:
    """TFLM's GetQuantizedConvolutionMultipler: the scales' product in float32, divided in double."""
    product = float(np.float32(lhs.scale) * np.float32(rhs.scale))
    return quantize_multiplier(product / float(np.float32(y.scale)))


def lower(op, graph, target) -> KernelCall:
    lhs, rhs, y = (graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    batch, rows, depth, cols, _ = _geometry(op, graph)
    adj_x, adj_y = bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))
    # lhs stored [rows][depth], or [depth][rows] with adj_x; rhs [depth][cols], or [cols][depth] with adj_y.
    lhs_row, lhs_depth = (1, rows) if adj_x else (depth, 1)
    rhs_depth, rhs_col = (1, depth) if adj_y else (cols, 1)
    multiplier, shift = output_multiplier(lhs, rhs, y)
    if wants_fast(target):
        return _lower_fast(op, graph, batch, rows, depth, cols, (lhs_row, lhs_depth), (rhs_depth, rhs_col),
                           multiplier, shift)
    return KernelCall(
        function="ta_batch_matmul_s8",
        sources=("matmul/ta_batch_matmul_s8.c", "matmul/ta_batch_matmul_s8.h"),
        params_type="ta_batch_matmul_params",
        params=(
            ("batch", tuple(batch)),
            ("lhs_batch_stride", _batch_strides(lhs.shape, rows * depth)),
            ("rhs_batch_stride", _batch_strides(rhs.shape, depth * cols)),
            ("rows", rows), ("cols", cols), ("depth", depth),
            ("lhs_row_stride", lhs_row), ("lhs_depth_stride", lhs_depth),
            ("rhs_depth_stride", rhs_depth), ("rhs_col_stride", rhs_col),
            ("lhs_offset", -lhs.zero_point), ("rhs_offset", -rhs.zero_point), ("output_offset", y.zero_point),
            ("multiplier", multiplier), ("shift", shift),
            ("act_min", -128), ("act_max", 127),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
        macs=int(np.prod(batch)) * rows * cols * depth,
    )


def fast_requant_exact(lhs_zero_point: int, rhs_zero_point: int, depth: int, shift: int) -> bool:
    """ta_requantize_fast_acc equals TFLM's requantization: every |acc| < 2^30 (each offset operand is
    at most max(127 - zp, 128 + zp) in magnitude) and the multiplier needs a right shift of 1..31."""
    def widest(zero_point: int) -> int:
        return max(127 - zero_point, 128 + zero_point)
    bound = depth * widest(lhs_zero_point) * widest(rhs_zero_point)
    return bound < ACC_LIMIT and -31 <= shift <= -1


def _lower_fast(op, graph, batch, rows, depth, cols, lhs_strides, rhs_strides, multiplier, shift) -> KernelCall:
    """Both operands widened to int16 in scratch, 2 x 2 output tiles of SMLADs
    (templates/kernels/fast/ta_batch_matmul_s8_fast.c)."""
    lhs, rhs, y = (graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    padded_depth = (depth + 3) // 4 * 4
    fast = fast_requant_exact(lhs.zero_point, rhs.zero_point, depth, shift)
    round_ = int(round_constants(np.array([shift]), y.zero_point, True)[0]) if fast else 0
    scratch = ((rows + 1) // 2 * 2 + (cols + 1) // 2 * 2) * padded_depth * 2
    return KernelCall(
        function="ta_batch_matmul_s8_fast",
        sources=("fast/ta_batch_matmul_s8_fast.c", "fast/ta_batch_matmul_s8_fast.h", "fast/ta_dsp.h"),
        params_type="ta_batch_matmul_fast_params",
        params=(
            ("batch", tuple(batch)),
            ("lhs_batch_stride", _batch_strides(lhs.shape, rows * depth)),
            ("rhs_batch_stride", _batch_strides(rhs.shape, depth * cols)),
            ("rows", rows), ("cols", cols), ("depth", depth), ("padded_depth", padded_depth),
            ("lhs_row_stride", lhs_strides[0]), ("lhs_depth_stride", lhs_strides[1]),
            ("rhs_col_stride", rhs_strides[1]), ("rhs_depth_stride", rhs_strides[0]),
            ("lhs_offset", -lhs.zero_point), ("rhs_offset", -rhs.zero_point), ("output_offset", y.zero_point),
            ("fast_requant", int(fast)), ("multiplier", multiplier), ("shift", -shift if fast else shift),
            ("round", round_),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0]),
              ScratchArg()),
        scratch_bytes=scratch,
        macs=int(np.prod(batch)) * rows * cols * depth,
    )
