"""BATCH_MATMUL -> arm_batch_matmul_s8 (int8, ranks 2 to 4), as TFLM's cmsis_nn kernel.

The library multiplies lhs [.., rows, depth] by a *transposed* rhs [.., cols, depth]. TFLM
swaps the last two axes of rhs when adj_y is false, and of lhs when adj_x is true, into
buffers of their own at run time. Here a constant operand is swapped at generation time;
an activation is swapped by arm_transpose_s8 into this op's scratch, which also holds, on MVE,
the rhs column sums arm_batch_matmul_s8 computes (arm_fully_connected_s8_get_buffer_size of
the output). TFLM's compression of an rhs [.., 1, cols, depth] (lhs rows merged across the
third-from-last axis) is reproduced, so the library sees the same dimensions as under TFLM.
"""
from __future__ import annotations

import numpy as np

from ...plan.liveness import align
from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, shape4, unsupported
from ..ops import batch_matmul as portable
from . import _buffer_sizes as sizes
from ._structs import HEADERS, LIBRARY, activation, core, dims, name, struct

OP_TYPES = ("BATCH_MATMUL",)
MAX_RANK = 4                      # TFLM's cmsis_nn kernel takes ranks 2..4 (the portable one up to 5)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    for slot, index in (("lhs", op.inputs[0]), ("rhs", op.inputs[1])):
        rank = len(graph.tensor(index).shape)
        if rank > MAX_RANK:
            reasons.append(f"{slot} has rank {rank}; arm_batch_matmul_s8 (TFLM's cmsis_nn kernel) takes 2 to {MAX_RANK}")
    return unsupported(reasons)


def _swap(shape) -> tuple[int, ...]:
    return (*shape[:-2], shape[-1], shape[-2])


def library_shapes(lhs_shape, rhs_shape, out_shape, adj_x: bool, adj_y: bool):
    """TFLM's PopulateEvalData for int8: (lhs, rhs, output) as cmsis_nn_dims (n, h, w, c) tuples."""
    lhs = list(_swap(lhs_shape) if adj_x else lhs_shape)          # [.., rows, depth]
    rhs = list(rhs_shape if adj_y else _swap(rhs_shape))          # [.., cols, depth]
    out = list(out_shape)
    if len(rhs) > 2 and len(lhs) > 2 and rhs[-3] == 1:
        lhs = lhs[:-3] + [lhs[-3] * lhs[-2], lhs[-1]]
        rhs = rhs[:-3] + rhs[-2:]
        out = out[:-3] + [lhs[-2], out[-1]]
    return shape4(lhs), shape4(rhs), shape4(out)


def lower(op, graph, target) -> KernelCall:
    lhs, rhs, y = (graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    adj_x, adj_y = bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))
    lhs_dims, rhs_dims, out_dims = library_shapes(lhs.shape, rhs.shape, y.shape, adj_x, adj_y)
    multiplier, shift = portable.output_multiplier(lhs, rhs, y)
    wrapper = name(op, "bmm")
    constants, declarations, body = [], [], []
    scratch = 0

    def operand(slot: str, index: int, swapped: bool):
        """The pointer the library reads for one operand, swapping its last two axes if needed."""
        nonlocal scratch
        tensor = graph.tensor(index)
        if not swapped:
            return TensorArg(index, const=True), slot
        if tensor.is_constant:
            constants.append(ConstArray(f"{slot}_t", "int8_t", np.swapaxes(tensor.array(), -1, -2)))
            return ConstRef(f"{slot}_t"), slot
        offset, scratch = scratch, align(scratch + tensor.num_elements)
        declarations.extend((dims(name(op, f"{slot}_in_dims"), *shape4(tensor.shape)),
                             dims(name(op, f"{slot}_t_dims"), *shape4(_swap(tensor.shape)))))
        body.append(f"    int8_t *{slot}_t = scratch + {offset};\n"
                    f"    if (arm_transpose_s8({slot}, {slot}_t, &{name(op, f'{slot}_in_dims')}, "
                    f"&{name(op, f'{slot}_t_dims')}, &{name(op, 'swap')}) != ARM_CMSIS_NN_SUCCESS) {{\n"
                    f"        return TA_ERROR;\n"
                    f"    }}\n")
        return TensorArg(index, const=True), f"{slot}_t"

    lhs_arg, lhs_ptr = operand("lhs", op.inputs[0], adj_x)
    rhs_arg, rhs_ptr = operand("rhs", op.inputs[1], not adj_y)
    if body:
        declarations.insert(0, struct("cmsis_nn_transpose_params", name(op, "swap"),
                                      {"num_dims": 4, "permutations": name(op, "swap_perm")}))
        declarations.insert(0, f"static const uint32_t {name(op, 'swap_perm')}[4] = {{0, 1, 3, 2}};")
    sums = sizes.fully_connected_s8(core(target), out_dims[3])
    if sums:
        context = f"{{.buf = scratch + {scratch}, .size = {sums}}}"
        scratch = scratch + sums
    else:
        context = "{.buf = NULL, .size = 0}"
    declarations += [
        struct("cmsis_nn_bmm_params", name(op, "bmm_params"), {
            "adj_x": adj_x, "adj_y": adj_y,
            "fc_params": {"input_offset": -lhs.zero_point, "filter_offset": -rhs.zero_point,
                          "output_offset": y.zero_point, "activation": activation(-128, 127)}}),
        struct("cmsis_nn_per_tensor_quant_params", name(op, "quant"), {"multiplier": multiplier, "shift": shift}),
        dims(name(op, "lhs_dims"), *lhs_dims),
        dims(name(op, "rhs_dims"), *rhs_dims),
        dims(name(op, "output_dims"), *out_dims),
    ]
    # arm_batch_matmul_s8 behind ta_invoke's signature: the swaps, then the call.
    declarations.append(
        f"static int {wrapper}(const int8_t *lhs, const int8_t *rhs, int8_t *output, int8_t *scratch) {{\n"
        + "".join(body)
        + ("" if scratch else "    (void)scratch;\n")
        + f"    const cmsis_nn_context ctx = {context};\n"
        f"    return (int)arm_batch_matmul_s8(&ctx, &{name(op, 'bmm_params')}, &{name(op, 'quant')},\n"
        f"                                    &{name(op, 'lhs_dims')}, {lhs_ptr}, &{name(op, 'rhs_dims')}, {rhs_ptr},\n"
        f"                                    &{name(op, 'output_dims')}, output);\n"
        f"}}")
    batches = out_dims[0] * out_dims[1]
    return KernelCall(
        function=wrapper, sources=(), params_type=None, params=(),
        args=(lhs_arg, rhs_arg, TensorArg(op.outputs[0]), ScratchArg() if scratch else "NULL"),
        constants=tuple(constants), declarations=tuple(declarations), headers=HEADERS, library=LIBRARY,
        scratch_bytes=scratch,
        macs=batches * out_dims[2] * out_dims[3] * lhs_dims[3],
    )
