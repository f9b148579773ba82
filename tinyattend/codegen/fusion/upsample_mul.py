"""RESIZE_NEAREST_NEIGHBOR -> MUL [-> residual ADD] fused into one row-by-row pass (templates/kernels/
fused/ta_upsample_mul_s8.c): the attention condensers' tail, whose full-size attention map (and, with
the residual, the product V * A) otherwise lives beside V (issue 17). The pass is pure; the lowering
calls the MUL (and ADD) layer's own kernel on row-shaped copies of its tensors, so the requantization,
and the output bytes, are the layers'.

Fused when the resize upsamples (its output larger than its input, the same batch and channels)
an int8 NHWC batch-1 map, its output is read only by a MUL, once, and is no model output, and the
MUL's other input V has the MUL's output shape (no broadcast). Either V is last read there, or the
MUL's output is read only by an ADD of that same V (V + V * A, either operand order, no broadcast),
no model output, and V is last read at that ADD: the fused op then takes the ADD's place and
output. The output takes V's bytes; were V read later, the unfused MUL would write over the
upsampled map instead and fusing would save nothing. Anything else stays as it is. The
LOGISTIC (and any scaling) before the resize runs on the small map, unfused: it is small.
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np

from ...ir.graph import Graph, Op, Tensor
from ..lowering import ConstArray, KernelCall, ScratchArg, TensorArg, Target, renumbered, shape4
from ..ops import add, mul
from ..ops.resize_nearest_neighbor import nearest_index

OP_TYPE = "UPSAMPLE_MUL"
SOURCES = ("fused/ta_upsample_mul_s8.c", "fused/ta_upsample_mul_s8.h")
ROW_ALIGN = 8             # the product row's offset in scratch, past the gathered row


def _last_read_at(graph: Graph, tensor: int, op: Op) -> bool:
    """Whether `op` is the last reader of `tensor` and it is no model output."""
    position = {o.index: p for p, o in enumerate(graph.ops)}
    return tensor not in graph.outputs and all(position[r.index] <= position[op.index]
                                               for r in graph.consumers(tensor))


def _residual(graph: Graph, product: Op, full: Tensor) -> Op | None:
    """The ADD V + V * A (or V * A + V) that alone reads the MUL's output, else None."""
    y = product.outputs[0]
    readers = graph.consumers(y)
    if y in graph.outputs or len(readers) != 1 or readers[0].type != "ADD":
        return None
    residual = readers[0]
    if sorted(residual.inputs) != sorted((y, full.index)) or len(residual.outputs) != 1:
        return None
    out = graph.tensor(residual.outputs[0])
    if tuple(out.shape) != tuple(full.shape) or out.dtype != "int8":
        return None
    return residual


def candidates(graph: Graph) -> list[tuple[Op, Op, Op | None]]:
    """Every fusable (RESIZE_NEAREST_NEIGHBOR, MUL, residual ADD or None), in graph order."""
    found = []
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
                or up.num_elements <= small.num_elements or {small.dtype, full.dtype, y.dtype} != {"int8"}
                or tuple(full.shape) != tuple(up.shape) or tuple(y.shape) != tuple(up.shape)):
            continue
        if _last_read_at(graph, full.index, product):
            found.append((resize, product, None))
            continue
        residual = _residual(graph, product, full)
        if residual is not None and _last_read_at(graph, full.index, residual):
            found.append((resize, product, residual))
    return found


def fuse(graph: Graph, target: Target) -> tuple[Graph, Target]:
    """Every candidate replaced by one UPSAMPLE_MUL op (inputs: the small map, V; output: the
    MUL's, or the residual ADD's in its place), ops renumbered by position and the target's
    wide_ops with them."""
    found = candidates(graph)
    if not found:
        return graph, target
    last_of = {(residual or product).index: (resize, product, residual) for resize, product, residual in found}
    dropped = {resize.index for resize, _, _ in found}
    dropped |= {product.index for _, product, residual in found if residual is not None}   # runs at the ADD
    kept = []
    for op in graph.ops:
        if op.index in dropped:
            continue
        if op.index in last_of:
            resize, product, residual = last_of[op.index]
            full = next(i for i in product.inputs if i != resize.outputs[0])
            op = Op(op.index, OP_TYPE, (resize.inputs[0], full), op.outputs,
                    MappingProxyType({"resize": resize, "mul": product, "residual": residual}))
        kept.append(op)
    return replace(graph, ops=tuple(replace(op, index=p) for p, op in enumerate(kept))), renumbered(target, kept)


def _row_call(module, layer: Op, graph: Graph, target: Target, names: dict, c: int, width: int):
    """`layer` lowered by `module` on row-shaped (1, 1, width, c) copies of its tensors, and its
    tensor arguments as the fused kernel's row pointers (`names`: tensor index -> pointer name)."""
    tensors, row_of = list(graph.tensors), {}
    for index in (*layer.inputs, layer.outputs[0]):
        if index not in row_of:
            t = graph.tensor(index)
            tensors.append(Tensor(len(tensors), t.name, (1, 1, width, c), t.dtype, t.quant))
            row_of[index] = len(tensors) - 1
    row_op = replace(layer, inputs=tuple(row_of[i] for i in layer.inputs), outputs=(row_of[layer.outputs[0]],))
    call = module.lower(row_op, replace(graph, tensors=tuple(tensors)), target)
    by_row = {row_of[i]: name for i, name in names.items()}
    args = []
    for arg in call.args:
        if not isinstance(arg, TensorArg) or arg.index not in by_row:
            raise ValueError(f"op {layer.index}: the row {layer.type} takes an argument the fused kernel "
                             f"cannot give: {arg}")
        args.append(by_row[arg.index])
    return call, args


def _wrapper(index: int, kind: str, call, args: list[str], parameters: str) -> tuple[tuple[str, ...], tuple]:
    """The declarations of one row layer's constant parameters and its row function, and its constants."""
    from ..emit import _render_value
    symbols = {k.name: f"ta_op{index}_{kind}_{k.name}" for k in call.constants}
    fields = "".join(f"    .{field} = {_render_value(value, symbols)},\n" for field, value in call.params)
    declarations = (
        f"static const {call.params_type} op{index}_{kind} = {{\n{fields}}};",
        f"static ta_status op{index}_{kind}_row({parameters}) {{\n"
        f"    return {call.function}(&op{index}_{kind}, {', '.join(args)});\n}}",
    )
    return declarations, tuple(ConstArray(f"{kind}_{k.name}", k.ctype, k.values) for k in call.constants)


def lower(op: Op, graph: Graph, target: Target) -> KernelCall:
    resize, product, residual = op.options["resize"], op.options["mul"], op.options.get("residual")
    small, up = graph.tensor(resize.inputs[0]), graph.tensor(resize.outputs[0])
    full = next(i for i in product.inputs if i != up.index)
    _, in_h, in_w, c = shape4(small.shape)
    _, out_h, out_w, _ = shape4(up.shape)
    align = bool(resize.options.get("align_corners", False))
    half = bool(resize.options.get("half_pixel_centers", False))
    rows = np.array([nearest_index(v, in_h, out_h, align, half) for v in range(out_h)], dtype=np.int32)
    cols = np.array([nearest_index(v, in_w, out_w, align, half) for v in range(out_w)], dtype=np.int32)
    # the MUL (and ADD) of one row, lowered by its own module on row-shaped copies of its tensors
    mul_names = {up.index: "upsampled", full: "full", product.outputs[0]: "output"}
    call, args = _row_call(mul, product, graph, target, mul_names, c, out_w)
    declarations, constants = _wrapper(op.index, "mul", call, args,
                                       "const int8_t *upsampled, const int8_t *full, int8_t *output")
    calls, add_row, scratch = [call], "NULL", out_w * c
    if residual is not None:
        add_names = {product.outputs[0]: "product", full: "full", residual.outputs[0]: "output"}
        add_call, add_args = _row_call(add, residual, graph, target, add_names, c, out_w)
        add_declarations, add_constants = _wrapper(op.index, "add", add_call, add_args,
                                                   "const int8_t *product, const int8_t *full, int8_t *output")
        declarations, constants = declarations + add_declarations, constants + add_constants
        calls.append(add_call)
        add_row = f"op{op.index}_add_row"
        scratch = -(-out_w * c // ROW_ALIGN) * ROW_ALIGN + out_w * c     # the gathered row, then the product's
    declarations += (
        f"static const ta_upsample_mul_params op{op.index}_fused = {{\n"
        f"    .out_h = {out_h}, .out_w = {out_w}, .channels = {c}, .in_w = {in_w},\n"
        f"    .src_rows = ta_op{op.index}_rows, .src_cols = ta_op{op.index}_cols,\n"
        f"    .mul_row = op{op.index}_mul_row, .add_row = {add_row},\n}};",
    )
    return KernelCall(
        function="ta_upsample_mul_s8",
        sources=tuple(sorted({*SOURCES, *(s for k in calls for s in k.sources)})),
        params_type=None, params=(),
        args=(f"&op{op.index}_fused", TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True),
              TensorArg(op.outputs[0]), ScratchArg()),
        constants=(ConstArray("rows", "int32_t", rows), ConstArray("cols", "int32_t", cols), *constants),
        scratch_bytes=scratch,
        in_place=True,            # over V: row y is written after V's row y is read (the small map is smaller)
        macs=sum(graph.tensor(layer.outputs[0]).num_elements for layer in (product, residual) if layer is not None),
        declarations=declarations,
        paths=tuple(p for k in calls for p in k.paths),
    )
