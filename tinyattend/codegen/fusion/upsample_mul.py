"""RESIZE_NEAREST_NEIGHBOR -> MUL fused into one row-by-row pass (templates/kernels/fused/
ta_upsample_mul_s8.c): the attention condensers' tail, whose full-size attention map otherwise
lives beside V (issue 17). The pass is pure; the lowering calls the MUL layer's own kernel on
row-shaped copies of its tensors, so the requantization, and the output bytes, are the layer's.

Fused when the resize upsamples (its output larger than its input, the same batch and channels)
an int8 NHWC batch-1 map, its output is read only by a MUL, once, and is no model output, and the
MUL's other input V has the MUL's output shape (no broadcast) and is last read there (the output
then takes V's bytes; were V read later, the unfused MUL would write over the upsampled map
instead and fusing would save nothing). Anything else stays as it is. The
LOGISTIC (and any scaling) before the resize runs on the small map, unfused: it is small.
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np

from ...ir.graph import Graph, Op, Tensor
from ..lowering import ConstArray, KernelCall, ScratchArg, TensorArg, Target, shape4
from ..ops import mul
from ..ops.resize_nearest_neighbor import nearest_index

OP_TYPE = "UPSAMPLE_MUL"
SOURCES = ("fused/ta_upsample_mul_s8.c", "fused/ta_upsample_mul_s8.h")


def candidates(graph: Graph) -> list[tuple[Op, Op]]:
    """Every fusable (RESIZE_NEAREST_NEIGHBOR, MUL) pair, in graph order."""
    pairs = []
    for resize in graph.ops:
        if resize.type != "RESIZE_NEAREST_NEIGHBOR" or resize.outputs[0] in graph.outputs:
            continue
        small, up = graph.tensor(resize.inputs[0]), graph.tensor(resize.outputs[0])
        readers = graph.consumers(up.index)
        if len(readers) != 1 or readers[0].type != "MUL" or list(readers[0].inputs).count(up.index) != 1:
            continue
        product = readers[0]
        full = graph.tensor(next(i for i in product.inputs if i != up.index))
        y = graph.tensor(product.outputs[0])
        if (len(small.shape) != 4 or len(up.shape) != 4 or small.shape[0] != 1 or up.shape[3] != small.shape[3]
                or up.num_elements <= small.num_elements or small.dtype != "int8"
                or tuple(full.shape) != tuple(up.shape) or tuple(y.shape) != tuple(up.shape)):
            continue
        position = {op.index: p for p, op in enumerate(graph.ops)}
        if full.index in graph.outputs or any(position[r.index] > position[product.index]
                                              for r in graph.consumers(full.index)):
            continue
        pairs.append((resize, product))
    return pairs


def fuse(graph: Graph, target: Target) -> tuple[Graph, Target]:
    """Every candidate pair replaced by one UPSAMPLE_MUL op (inputs: the small map, V; output: the
    MUL's), ops renumbered by position and the target's wide_ops with them."""
    pairs = {product.index: resize for resize, product in candidates(graph)}
    if not pairs:
        return graph, target
    dropped = {resize.index for resize in pairs.values()}
    kept = []
    for op in graph.ops:
        if op.index in dropped:
            continue
        if op.index in pairs:
            resize = pairs[op.index]
            full = next(i for i in op.inputs if i != resize.outputs[0])
            op = Op(op.index, OP_TYPE, (resize.inputs[0], full), op.outputs,
                    MappingProxyType({"resize": resize, "mul": op}))
        kept.append(op)
    wide = frozenset(p for p, op in enumerate(kept) if op.type == "CONV_2D" and op.index in target.wide_ops)
    return (replace(graph, ops=tuple(replace(op, index=p) for p, op in enumerate(kept))),
            replace(target, wide_ops=wide))


def lower(op: Op, graph: Graph, target: Target) -> KernelCall:
    resize, product = op.options["resize"], op.options["mul"]
    small, up, y = graph.tensor(resize.inputs[0]), graph.tensor(resize.outputs[0]), graph.tensor(product.outputs[0])
    _, in_h, in_w, c = shape4(small.shape)
    _, out_h, out_w, _ = shape4(up.shape)
    align = bool(resize.options.get("align_corners", False))
    half = bool(resize.options.get("half_pixel_centers", False))
    rows = np.array([nearest_index(v, in_h, out_h, align, half) for v in range(out_h)], dtype=np.int32)
    cols = np.array([nearest_index(v, in_w, out_w, align, half) for v in range(out_w)], dtype=np.int32)
    # the MUL of one row, lowered by its own module on row-shaped copies of its tensors
    tensors = list(graph.tensors)
    row_of = {}
    for index in (*product.inputs, product.outputs[0]):
        t = graph.tensor(index)
        tensors.append(Tensor(len(tensors), t.name, (1, 1, out_w, c), t.dtype, t.quant))
        row_of[index] = len(tensors) - 1
    row_op = replace(product, inputs=tuple(row_of[i] for i in product.inputs), outputs=(row_of[product.outputs[0]],))
    call = mul.lower(row_op, replace(graph, tensors=tuple(tensors)), target)
    symbols = {k.name: f"ta_op{op.index}_mul_{k.name}" for k in call.constants}
    names = {row_of[up.index]: "upsampled", row_of[product.outputs[0]]: "output"}
    names.update({row_of[i]: "full" for i in product.inputs if i != up.index})
    args = []
    for arg in call.args:
        if not isinstance(arg, TensorArg) or arg.index not in names:
            raise ValueError(f"op {op.index}: the row MUL takes an argument the fused kernel cannot give: {arg}")
        args.append(names[arg.index])
    from ..emit import _render_value
    fields = "".join(f"    .{field} = {_render_value(value, symbols)},\n" for field, value in call.params)
    declarations = (
        f"static const {call.params_type} op{op.index}_mul = {{\n{fields}}};",
        f"static ta_status op{op.index}_mul_row(const int8_t *upsampled, const int8_t *full, int8_t *output) {{\n"
        f"    return {call.function}(&op{op.index}_mul, {', '.join(args)});\n}}",
        f"static const ta_upsample_mul_params op{op.index}_fused = {{\n"
        f"    .out_h = {out_h}, .out_w = {out_w}, .channels = {c}, .in_w = {in_w},\n"
        f"    .src_rows = ta_op{op.index}_rows, .src_cols = ta_op{op.index}_cols,\n"
        f"    .mul_row = op{op.index}_mul_row,\n}};",
    )
    constants = (ConstArray("rows", "int32_t", rows), ConstArray("cols", "int32_t", cols),
                 *(ConstArray(f"mul_{k.name}", k.ctype, k.values) for k in call.constants))
    return KernelCall(
        function="ta_upsample_mul_s8",
        sources=tuple(sorted({*SOURCES, *call.sources})),
        params_type=None, params=(),
        args=(f"&op{op.index}_fused", TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True),
              TensorArg(op.outputs[0]), ScratchArg()),
        constants=constants,
        scratch_bytes=out_w * c,
        in_place=True,            # over V: row y is written after V's row y is read (the small map is smaller)
        macs=y.num_elements,
        declarations=declarations,
        paths=call.paths,
    )
