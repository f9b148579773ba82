"""Read an ONNX model and check, before any conversion, that tinyattend can take it end to end.

Supported ops are a table (after Vela's supported-operators): each entry names the TFLite op(s) it
becomes and an optional constraint function `(node, graph: GraphIndex)` that returns a human-readable
reason when one node cannot be converted, or None when it can.

The TFLite ops an entry names (its upper-case words: CONV_2D, RESIZE_BILINEAR, ...) must each have a
module in the code generator's registry (tinyattend/codegen/ops/); a node whose entry names one that
has none is refused here, in the first second, instead of at code generation after onnx2tf and
calibration. So this table, `tinyattend inspect` and the code generator cannot disagree: adding an op
to the table without its codegen module makes the pre-check refuse it (and tests/test_precheck.py fail).

The table and its constraints live in onnx_op_rules.py, the graph index in onnx_graph.py; their names
are imported here too, where the rest of tinyattend and the tests read them.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import BadModelError, UnsupportedOpError
from .onnx_graph import GraphIndex, OnnxInput
from .onnx_op_rules import (DEFAULT_ADVICE, EXAMPLE_NODES, OP_ADVICE, SUPPORTED_OPS,  # noqa: F401 - re-exported
                            match_exact_gelu, missing_kernels, tflite_ops)  # noqa: F401


def load_onnx(path: Path):
    """Load and sanity-check an .onnx file; BadModelError when it is not one."""
    import onnx
    from google.protobuf.message import DecodeError

    if not path.exists():
        raise BadModelError(f"{path}: no such file", "check the path to the model")
    if not path.is_file():
        raise BadModelError(f"{path}: not a file", "give an .onnx/.tflite/.keras/.h5 file or a SavedModel directory")
    try:
        model = onnx.load(str(path), load_external_data=True)
    except onnx.checker.ValidationError as err:   # external data outside the model's folder: refused unread
        raise BadModelError(f"{path}: refused: {str(err).strip().splitlines()[0][:300]}",
                            "keep external data files in the model's folder (or save the model with its weights "
                            "inline: onnx.save(model, path, save_as_external_data=False))") from None
    except (DecodeError, ValueError, RuntimeError, OSError, UnicodeDecodeError) as err:
        raise BadModelError(f"{path}: not a valid ONNX protobuf ({type(err).__name__}: {str(err)[:200]})",
                            "the file is corrupt or not an ONNX model; re-export it "
                            "(e.g. torch.onnx.export) and check it opens in onnxruntime") from None
    if not model.graph.node:
        raise BadModelError(f"{path}: the ONNX graph has no nodes (not an ONNX model, or an empty one)",
                            "re-export the model; an ONNX file holds a graph of nodes")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        raise BadModelError(f"{path}: the ONNX model is invalid: {str(err).splitlines()[0][:300]}",
                            "re-export the model with a current exporter; `onnx.checker.check_model` must pass") from None
    return model


def onnx_input(model, path: Path, input_shape: tuple[int, ...] | None) -> OnnxInput:
    """The single graph input, with a static shape (from the model, or `input_shape`)."""
    initializers = {init.name for init in model.graph.initializer}
    inputs = [inp for inp in model.graph.input if inp.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(f"'{inp.name}'" for inp in inputs) or "none"
        raise BadModelError(f"{path}: the model has {len(inputs)} inputs ({names}); tinyattend supports exactly one",
                            "export a model with a single image input (fold the other inputs into constants)")
    inp = inputs[0]
    tensor_type = inp.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor_type.shape.dim]
    labels = [d.dim_param or "?" for d in tensor_type.shape.dim]
    if input_shape is not None:
        if len(input_shape) != len(dims):
            raise BadModelError(f"{path}: --input-shape {','.join(map(str, input_shape))} has {len(input_shape)} "
                                f"dimensions but input '{inp.name}' has {len(dims)}",
                                f"give {len(dims)} dimensions, e.g. {_example_shape(dims)}")
        clash = [(i, d, g) for i, (d, g) in enumerate(zip(dims, input_shape)) if d is not None and d != g]
        if clash:
            i, d, g = clash[0]
            raise BadModelError(f"{path}: --input-shape sets dimension {i} of input '{inp.name}' to {g}, "
                                f"but the model fixes it to {d}",
                                f"use {_example_shape([d if x is None else x for x in dims])}")
        return OnnxInput(inp.name, tuple(int(v) for v in input_shape), tensor_type.elem_type)
    if any(d is None for d in dims):
        shown = ",".join(str(d) if d is not None else labels[i] for i, d in enumerate(dims))
        raise BadModelError(f"{path}: input '{inp.name}' has a dynamic shape [{shown}]",
                            f"give a static shape with --input-shape, e.g. --input-shape {_example_shape(dims)}")
    return OnnxInput(inp.name, tuple(dims), tensor_type.elem_type)


def _example_shape(dims) -> str:
    guess = [1, 3, 96, 96] if len(dims) == 4 else [1] + [16] * (len(dims) - 1)
    return ",".join(str(d if d is not None else g) for d, g in zip(dims, guess))


def node_problem(node, graph: GraphIndex, require_kernels: bool = True) -> str | None:
    """Why tinyattend cannot convert `node` (a node of the graph `graph` indexes), or None when it can.
    require_kernels=False: whether it converts to int8 TFLite only, not whether C can be generated."""
    if node.domain not in ("", "ai.onnx"):
        return f"custom domain '{node.domain}'"
    entry = SUPPORTED_OPS.get(node.op_type)
    if entry is None:
        return "no int8 TFLite lowering in tinyattend"
    constraint = entry[1]
    reason = constraint(node, graph) if constraint else None
    if reason:
        return reason
    missing = missing_kernels(node.op_type) if require_kernels else ()
    if missing:
        return (f"becomes {' / '.join(missing)}, which tinyattend's code generator has no kernel for "
                f"(tinyattend/codegen/ops/)")
    return rank_problem(node, graph) if require_kernels else None


def rank_problem(node, graph: GraphIndex) -> str | None:
    """Why `node`'s tensors are of a higher rank than every kernel it may become takes (their op modules'
    MAX_RANK, tinyattend/codegen/ops/), or None. Looks at the graph as onnx2tf will read it (rank-5/6 data
    movement already rewritten on rank-4 views, onnx_rank_rewrites); an entry naming several ops is
    refused only above the highest limit among them, so the pre-check never refuses what may convert."""
    from ..codegen.ops import max_rank

    ops = tflite_ops(node.op_type)
    limits = [max_rank(op) for op in ops]
    if not ops or None in limits:
        return None
    limit = max(limits)
    for name in (*node.input, *node.output):
        shape = graph.shapes.get(name) if name else None
        if shape is not None and len(shape) > limit and graph.constant(name) is None:
            shown = "x".join("?" if d is None else str(d) for d in shape)
            return (f"tensor '{name}' has rank {len(shape)} ({shown}); {node.op_type} becomes {' / '.join(ops)}, "
                    f"whose kernel takes rank {limit} at most")
    return None


def group_problems(problems: list[tuple[str, str, str]]) -> list[dict]:
    """(op type, node name, reason) per node -> one entry per op type, in first-seen order: op, count,
    nodes (all names), reasons (distinct, first-seen order), advice."""
    groups: dict[str, dict] = {}
    for op, name, reason in problems:
        group = groups.setdefault(op, {"op": op, "count": 0, "nodes": [], "reasons": [],
                                       "advice": OP_ADVICE.get(op, DEFAULT_ADVICE)})
        group["count"] += 1
        group["nodes"].append(name)
        if reason not in group["reasons"]:
            group["reasons"].append(reason)
    return list(groups.values())


def describe_groups(groups: list[dict]) -> str:
    lines = []
    for group in groups:
        names = ", ".join(f"'{n}'" for n in group["nodes"][:EXAMPLE_NODES])
        more = f", ... ({group['count'] - EXAMPLE_NODES} more)" if group["count"] > EXAMPLE_NODES else ""
        lines.append(f"    {group['op']} x{group['count']} (node{'s' if group['count'] > 1 else ''} {names}{more}): "
                     + "; ".join(group["reasons"][:3]))
        lines.append(f"        what to do: {group['advice']}")
    return "\n".join(lines)


def check_onnx_ops(model, path: Path, require_kernels: bool = True) -> None:
    """UnsupportedOpError naming each op type tinyattend cannot take, once: how many nodes, the first
    few names, why, and what to do. `ops` keeps every (op type, node name, reason).
    require_kernels=False checks the conversion to int8 TFLite only (`convert_model(..., tflite_only=True)`)."""
    from .onnx_norm_rewrites import _ranks

    problems = []
    model = _shapes_folded(model)
    graph = GraphIndex(model.graph, _ranks(model) if require_kernels else None)
    for index, node in enumerate(model.graph.node):
        name = node.name or f"#{index} (unnamed)"
        reason = node_problem(node, graph, require_kernels)
        if reason:
            problems.append((node.op_type, name, reason))
    if problems:
        groups = group_problems(problems)
        raise UnsupportedOpError(
            f"{path}: {len(groups)} op type(s) tinyattend cannot convert ({len(problems)} node(s)); nothing was "
            f"converted:\n{describe_groups(groups)}",
            f"change these ops in the model and export it again; `tinyattend inspect {path}` lists every node "
            f"and what it becomes",
            ops=problems)


def _shapes_folded(model):
    """A copy of `model` with its constant subgraphs folded and its rank-5/6 data movement on rank-4 views, as
    onnx2tf will read it (onnx_rewrites): torch's attention writes its scale as Sqrt(Cast(Shape(q)[-1])), a
    shape computation that folds to a constant, and must not be refused as a float SQRT (MobileViT's
    attention); its rank-5 qkv permute must not be refused as a rank-5 TRANSPOSE."""
    from .onnx_layout_rewrites import fold_shapes
    from .onnx_rank_rewrites import lower_ranks
    from .onnx_rewrites import constants_to_initializers, identities_to_initializers
    return lower_ranks(fold_shapes(identities_to_initializers(constants_to_initializers(model))))
