"""Lowering of a fused 1x1 expansion CONV_2D -> DEPTHWISE_CONV_2D (templates/kernels/fused/).

The kernel produces the depthwise output in bands of `band_rows` rows; each band's expanded rows
are computed into a buffer in the op's scratch, below the rows the previous band left for it, and
the depthwise runs over that buffer. Both steps call the unfused layers' own kernels with the
band's shapes, lowered here by their own op modules from band-shaped copies of the two ops: the
same requantization constants, so the same output bytes; only the schedule changes.
With a projection (a 1x1 CONV_2D reading the depthwise output, options["project"]) the depthwise
band goes to scratch and the projection writes the band's output rows; with a residual ADD of the
op's input (options["residual"]) the projection's band goes to scratch too and the ADD writes the
output rows. Then only a band of the depthwise (and projection) output exists, and the output may
overlap the input a few rows below it (`overlap_lead`): the block's input and output share bytes.

`schedule` mirrors the kernel's loop arithmetic; the kernel is given one parameter set per band
kind (first, middle, last), and a band count whose middle bands differ in shape is refused.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from ...ir.graph import Graph, Op, Tensor
from ..lowering import ConstArray, ConstRef, KernelCall, ScratchArg, TensorArg, Target
from ..ops import add, conv_2d, depthwise_conv_2d
from ..ops.padding import conv_padding

OP_TYPE = "FUSED_EXPAND_DEPTHWISE"
# The same kernel without the expansion: a depthwise layer run band by band over its own input, so
# that the fast kernel's padded planes are a band tall instead of the whole map (its scratch).
BANDED_TYPE = "DEPTHWISE_CONV_2D_BANDED"
OP_TYPES = (OP_TYPE, BANDED_TYPE)
SOURCES = ("fused/ta_fused_expand_dw_s8.c", "fused/ta_fused_expand_dw_s8.h")
ALIGN = 16
# Which sub-kernels the layer calls (TA_PATH_* in the fused kernel): the others are compiled out.
PATHS = {("expand", False): "TA_PATH_FUSED_EXPAND_PORTABLE", ("expand", True): "TA_PATH_FUSED_EXPAND_FAST",
         ("depthwise", False): "TA_PATH_FUSED_DW_PORTABLE", ("depthwise", True): "TA_PATH_FUSED_DW_FAST",
         ("project", False): "TA_PATH_FUSED_PROJECT_PORTABLE", ("project", True): "TA_PATH_FUSED_PROJECT_FAST",
         ("residual", False): "TA_PATH_FUSED_ADD_PORTABLE", ("residual", True): "TA_PATH_FUSED_ADD_FAST"}
ROLES = ("expand", "depthwise", "project", "residual")


@dataclass(frozen=True)
class Band:
    """One band of the kernel's loop: output rows [out_first, out_first + out_rows) read expanded
    rows [lo, hi); rows [new_from, hi) are computed for it (the rest were already in the buffer)."""
    out_first: int
    out_rows: int
    lo: int
    hi: int
    new_from: int
    pad_top: int                 # padding rows above the band's first expanded row

    def shape(self) -> tuple[int, int, int, int]:
        """(rows computed, rows the depthwise reads, its padding on top, output rows)."""
        return self.hi - self.new_from, self.hi - self.lo, self.pad_top, self.out_rows


@dataclass(frozen=True)
class Geometry:
    in_h: int
    out_h: int
    stride: int
    pad_top: int
    filter_h: int


def geometry(dw: Op, graph: Graph) -> Geometry:
    x, w, y = (graph.tensor(dw.inputs[0]), graph.tensor(dw.inputs[1]), graph.tensor(dw.outputs[0]))
    pad_top, _ = conv_padding(dw.options, x.shape, w.shape[1], w.shape[2], y.shape)
    return Geometry(x.shape[1], y.shape[1], int(dw.options["stride_h"]), pad_top, w.shape[1])


def schedule(g: Geometry, band_rows: int) -> list[tuple[int, Band]] | None:
    """(kind, band) for every band, as the kernel's loop computes them; None when the band count
    cannot be run with three parameter sets (middle bands of different shapes) or a band reads
    no expanded row."""
    bands = -(-g.out_h // band_rows)
    result, next_row = [], 0
    for b in range(bands):
        kind = 0 if b == 0 else 2 if b == bands - 1 else 1
        oy = b * band_rows
        rows = min(band_rows, g.out_h - oy)
        lo = max(oy * g.stride - g.pad_top, 0)
        hi = min((oy + rows - 1) * g.stride - g.pad_top + g.filter_h, g.in_h)
        if hi <= lo:
            return None
        new_from = max(next_row, lo)
        result.append((kind, Band(oy, rows, lo, hi, new_from, max(g.pad_top - oy * g.stride, 0))))
        next_row = max(next_row, hi)
    middle = {band.shape() for kind, band in result if kind == 1}
    return result if len(middle) <= 1 else None


def band_bytes(g: Geometry, band_rows: int, mid_row_bytes: int) -> int:
    """The expanded rows' buffer: the most rows one band reads, 16-byte aligned."""
    bands = schedule(g, band_rows)
    rows = max(band.hi - band.lo for _, band in bands)
    return (rows * mid_row_bytes + ALIGN - 1) // ALIGN * ALIGN


def _band_ops(op: Op, graph: Graph, band: Band) -> tuple[Graph, dict]:
    """A copy of the graph with band-shaped tensors, and the ops on them by role: the expansion of
    rows [new_from, hi) (absent when the band computes no row), the depthwise over [lo, hi), and the
    projection and residual ADD of the band's output rows (when the op has them)."""
    expand, dw = op.options["expand"], op.options["depthwise"]
    project, residual = op.options.get("project"), op.options.get("residual")
    mid, y = graph.tensor(dw.inputs[0]), graph.tensor(dw.outputs[0])
    tensors = list(graph.tensors)

    def band_tensor(index: int, rows: int) -> int:
        like = graph.tensor(index)
        tensors.append(Tensor(len(tensors), like.name, (1, rows, *like.shape[2:]), like.dtype, like.quant))
        return len(tensors) - 1

    subs = {}
    new_rows = band.hi - band.new_from
    if new_rows > 0 and expand is not None:
        subs["expand"] = replace(expand, inputs=(band_tensor(expand.inputs[0], new_rows), *expand.inputs[1:]),
                                 outputs=(band_tensor(dw.inputs[0], new_rows),))
    _, pad_left = conv_padding(dw.options, mid.shape, graph.tensor(dw.inputs[1]).shape[1],
                               graph.tensor(dw.inputs[1]).shape[2], y.shape)
    options = dict(dw.options, padding="EXPLICIT", pad_top=band.pad_top, pad_left=pad_left)
    subs["depthwise"] = replace(dw, inputs=(band_tensor(dw.inputs[0], band.hi - band.lo), *dw.inputs[1:]),
                                outputs=(band_tensor(dw.outputs[0], band.out_rows),),
                                options=MappingProxyType(options))
    if project is not None:
        subs["project"] = replace(project, inputs=(subs["depthwise"].outputs[0], *project.inputs[1:]),
                                  outputs=(band_tensor(project.outputs[0], band.out_rows),))
    if residual is not None:
        inputs = tuple(subs["project"].outputs[0] if t == project.outputs[0] else band_tensor(t, band.out_rows)
                       for t in residual.inputs)
        subs["residual"] = replace(residual, inputs=inputs, outputs=(band_tensor(residual.outputs[0], band.out_rows),))
    return replace(graph, tensors=tuple(tensors)), subs


def overlap_lead(g: Geometry, band_rows: int, in_row_bytes: int, out_row_bytes: int, computes_rows: bool) -> int:
    """The least lead (bytes) the op's output may start below its input: after each band, the
    output rows written so far must lie below every input row a later band reads (its new
    expanded rows' input, or with no expansion the depthwise window's rows). Within a band the
    output is written after the band's reads, and the residual ADD reads each input byte before it
    writes the byte at the same place or lower (a lead >= 0)."""
    bands = [band for _, band in schedule(g, band_rows)]
    lead, first_read = 0, None          # the lowest input row a later band reads
    for band, later in zip(reversed(bands[:-1]), reversed(bands[1:])):
        start = later.new_from if computes_rows else later.lo
        if start < later.hi:
            first_read = start if first_read is None else min(first_read, start)
        if first_read is not None:
            lead = max(lead, (band.out_first + band.out_rows) * out_row_bytes - first_read * in_row_bytes)
    return lead


def _weights(call: KernelCall) -> tuple[object, object]:
    """(weights, bias) of a sub-call: ConstRef names of its constants (fast forms) or its tensors
    (portable forms), as the sub-kernel's argument list gives them."""
    refs = [a for a in call.args if isinstance(a, ConstRef)]
    if refs:
        return refs[0], None
    consts = [a for a in call.args if isinstance(a, TensorArg) and a.const]
    weights = consts[0]
    bias = consts[1] if len(consts) > 1 else None
    return weights, bias


def _as_array(arg: TensorArg, graph: Graph) -> ConstArray:
    t = graph.tensor(arg.index)
    return ConstArray("", {"int8": "int8_t", "int32": "int32_t"}[t.dtype], t.array().ravel())


class _Constants:
    """The fused call's constant arrays: each sub-call's under a name of its own, identical
    arrays stored once (the band kinds' weights and multipliers are usually the same)."""

    def __init__(self, op_index: int):
        self.op_index = op_index
        self.arrays: list[ConstArray] = []

    def add(self, array: ConstArray, name: str) -> str:
        values = np.asarray(array.values)
        for kept in self.arrays:
            if kept.ctype == array.ctype and np.array_equal(np.asarray(kept.values), values) \
                    and np.asarray(kept.values).dtype == values.dtype:
                return self.symbol(kept.name)
        self.arrays.append(ConstArray(name, array.ctype, values))
        return self.symbol(name)

    def symbol(self, name: str) -> str:
        return f"ta_op{self.op_index}_{name}"     # emit.py's name for a call's constant


def _render(value, symbols: dict) -> str:
    from ..emit import _render_value
    return _render_value(value, symbols)


def _stage(call: KernelCall, band_graph: Graph, consts: _Constants, tag: str) -> tuple[str, str]:
    """(declaration of the sub-call's params struct, the ta_fused_stage initializer). An ADD has no
    weights: its constants (the fast form's tables) are in its params struct."""
    symbols = {c.name: consts.add(c, f"{tag}_{c.name}") for c in call.constants}
    weights, bias = _weights(call) if not call.function.startswith("ta_add") else ("NULL", None)
    if weights == "NULL":
        weights_c = weights
    elif isinstance(weights, ConstRef):
        weights_c = symbols[weights.name]
    else:
        weights_c = consts.add(_as_array(weights, band_graph), f"{tag}_weights")
    bias_c = consts.add(_as_array(bias, band_graph), f"{tag}_bias") if bias is not None else "NULL"
    name = f"op{consts.op_index}_{tag}"
    fields = "".join(f"    .{field} = {_render(value, symbols)},\n" for field, value in call.params)
    declaration = f"static const {call.params_type} {name} = {{\n{fields}}};"
    return declaration, f"{{&{name}, {weights_c}, {bias_c}}}"


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def lower(op: Op, graph: Graph, target: Target) -> KernelCall:
    expand, dw = op.options["expand"], op.options["depthwise"]
    project, residual = op.options.get("project"), op.options.get("residual")
    band_rows = op.options["band_rows"]
    g = geometry(dw, graph)
    bands = schedule(g, band_rows)
    x, mid, y = graph.tensor(op.inputs[0]), graph.tensor(dw.inputs[0]), graph.tensor(dw.outputs[0])
    out = graph.tensor(op.outputs[0])
    mid_row = mid.shape[2] * mid.shape[3]
    dw_row = y.shape[2] * y.shape[3]
    # scratch: the expanded rows, the depthwise band (with a projection), the projection's band
    # (with a residual ADD), then the sub-kernels' own scratch
    buffer = band_bytes(g, band_rows, mid_row) if expand is not None else 0
    dw_band = _aligned(band_rows * dw_row) if project is not None else 0
    project_band = _aligned(band_rows * out.shape[2] * out.shape[3]) if residual is not None else 0
    wide = {expand.index} if expand is not None and op.options["expand_wide"] else set()
    if project is not None and op.options.get("project_wide"):
        wide.add(project.index)
    sub_target = replace(target, wide_ops=frozenset(wide), winograd_ops=frozenset())    # 1x1 and depthwise stages
    consts = _Constants(op.index)
    declarations, stages = [], {role: {} for role in ROLES}
    sources, paths, families, scratch = set(SOURCES), set(), {}, 0
    modules = {"expand": conv_2d, "depthwise": depthwise_conv_2d, "project": conv_2d, "residual": add}
    for kind, band in bands:
        if kind in stages["depthwise"]:
            continue
        band_graph, subs = _band_ops(op, graph, band)
        for role, sub in subs.items():
            call = modules[role].lower(sub, band_graph, sub_target)
            fast = call.function.endswith("_fast")
            if not fast and not call.function.endswith("_s8"):
                raise ValueError(f"op {op.index}: the fused {role} lowered to {call.function}, which it cannot call")
            if families.setdefault(role, fast) != fast:
                raise ValueError(f"op {op.index}: band kinds of the fused {role} took different kernels")
            declaration, stages[role][kind] = _stage(call, band_graph, consts, f"{role[0]}{kind}")
            declarations.append(declaration)
            sources.update(call.sources)
            paths.update(call.paths)
            paths.add(PATHS[(role, fast)])
            scratch = max(scratch, call.scratch_bytes)
    kinds = sorted(stages["depthwise"])
    none = "{NULL, NULL, NULL}"

    def init(role: str) -> str:
        some = stages[role].get(kinds[0], next(iter(stages[role].values()), none))
        return ", ".join(stages[role].get(k, some) for k in range(3))
    fields = {"in_h": g.in_h, "out_h": g.out_h, "band_rows": band_rows, "stride_h": g.stride,
              "pad_top": g.pad_top, "filter_h": g.filter_h, "in_row_bytes": x.shape[2] * x.shape[3],
              "mid_row_bytes": mid_row, "dw_row_bytes": dw_row, "out_row_bytes": out.shape[2] * out.shape[3],
              "band_bytes": buffer, "project_band_offset": buffer + dw_band,
              "sub_scratch_offset": buffer + dw_band + project_band,
              "no_expansion": int(expand is None), "expand_fast": int(families.get("expand", False)),
              "depthwise_fast": int(families["depthwise"]), "has_project": int(project is not None),
              "project_fast": int(families.get("project", False)), "has_residual": int(residual is not None),
              "residual_fast": int(families.get("residual", False)),
              "residual_first": int(residual is not None and residual.inputs[0] == op.inputs[0])}
    body = "".join(f"    .{k} = {v},\n" for k, v in fields.items())
    stage_fields = "".join(f"    .{role} = {{{init(role)}}},\n" for role in ROLES)
    declarations.append(f"static const ta_fused_expand_dw_params op{op.index}_fused = {{\n{body}{stage_fields}}};")
    w_dw = graph.tensor(dw.inputs[1])
    macs = y.num_elements * w_dw.shape[1] * w_dw.shape[2]
    if expand is not None:
        macs += mid.num_elements * graph.tensor(expand.inputs[1]).shape[3]
    if project is not None:
        macs += out.num_elements * y.shape[3]
    lead = None
    if project is not None:
        lead = (op.inputs[0], overlap_lead(g, band_rows, x.shape[2] * x.shape[3], out.shape[2] * out.shape[3],
                                           expand is not None))
    return KernelCall(
        function="ta_fused_expand_dw_s8",
        sources=tuple(sorted(sources)),
        params_type=None, params=(),
        args=(f"&op{op.index}_fused", TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0]), ScratchArg()),
        constants=tuple(consts.arrays),
        scratch_bytes=buffer + dw_band + project_band + scratch,
        macs=macs,
        declarations=tuple(declarations),
        paths=tuple(sorted(paths)),
        overlap=lead,
    )
