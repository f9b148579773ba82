"""`tinyattend inspect MODEL`: what is in a model and whether tinyattend can run it.

For a `.tflite`: one row per op (index, type, output tensor, input -> output shapes, quantization,
MACs) and, for each kernel set the op registry offers, whether the op's `check` accepts it; the
reasons for every rejection are listed under the table. For an `.onnx`: one row per node (type,
name, output shapes) and whether the converter can take it (`convert/onnx_checks.SUPPORTED_OPS`);
the int8 view needs the int8 model, so convert first and inspect OUT/model.tflite.

Exit status: 0 when everything is supported, 1 when anything is not (the reasons are printed).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .codegen.cnames import c_comment_text
from .errors import BadModelError
from .ir.graph import Graph, Op

# Support is a property of the op and the kernel set; the board only matters for which kernel sets
# it can build, and `convert --board` checks that. Inspect checks against the host profile.
INSPECT_BOARD = "host"
NAME_WIDTH = 36


def kernel_sets() -> tuple[str, ...]:
    """Kernel sets whose support the op modules can judge (`codegen.ops.KERNEL_SETS`, default portable)."""
    from .codegen import ops
    return tuple(getattr(ops, "KERNEL_SETS", ("portable",)))


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """A readable, printable tensor name: the first of TFLite's ';'-joined fused names, sanitised."""
    first = str(name).split(";")[0]
    text = c_comment_text(first, 200)
    return text if len(text) <= width else "..." + text[-(width - 3):]


def op_macs(op: Op, graph: Graph) -> int:
    """Multiply-accumulates of one op, counted as in convert/model_stats (conv, depthwise, FC, matmul)."""
    def shape(slot: int, outputs: bool = False) -> tuple[int, ...]:
        indices = op.outputs if outputs else op.inputs
        if slot >= len(indices) or indices[slot] is None:
            return ()
        return graph.tensor(indices[slot]).shape

    out = shape(0, outputs=True)
    out_elems = int(np.prod(out, dtype=np.int64)) if out else 0
    if op.type == "CONV_2D" and len(shape(1)) == 4:
        return out_elems * int(np.prod(shape(1)[1:]))
    if op.type == "DEPTHWISE_CONV_2D" and len(shape(1)) == 4:
        return out_elems * shape(1)[1] * shape(1)[2]
    if op.type == "FULLY_CONNECTED" and shape(1):
        return out_elems * shape(1)[-1]
    if op.type == "TRANSPOSE_CONV" and len(shape(1)) == 4 and shape(2):
        cout, kh, kw, _ = shape(1)
        return int(np.prod(shape(2))) * kh * kw * cout
    if op.type == "BATCH_MATMUL" and shape(0):
        return out_elems * shape(0)[-1]
    return 0


def quant_text(graph: Graph, op: Op) -> str:
    """Output scale/zero point; `w:Nch` when the op has a per-channel quantized constant (weights)."""
    out = graph.tensor(op.outputs[0])
    text = f"{out.dtype}"
    if out.quant is not None:
        text += f" s={out.scale:.3g} zp={out.zero_point}"
    for index in op.inputs:
        if index is not None and graph.tensor(index).is_constant and graph.tensor(index).quant is not None:
            q = graph.tensor(index).quant
            if q.per_channel:
                text += f" w:{len(q.scale)}ch"
                break
    return text


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def inspect_tflite(graph: Graph) -> dict:
    """Rows for every op and the problems per kernel set; plain data (JSON-ready)."""
    from .boards import load_board
    from .codegen.generate import check_io, check_rescales
    from .codegen.lowering import Target
    from .codegen.ops import registry, supported_op_types

    table = registry()
    board = load_board(INSPECT_BOARD)
    sets = kernel_sets()
    rows, problems = [], []
    for op in graph.ops:
        module = table.get(op.type)
        support = {}
        for kernels in sets:
            if module is None:
                reasons = [f"{op.type} has no kernel in tinyattend (supported: {', '.join(supported_op_types())})"]
            else:
                try:
                    reasons = list(module.check(op, graph, Target(board=board, kernels=kernels)))
                except Exception as err:  # noqa: BLE001 - a check that crashes must not hide the other ops
                    reasons = [f"its support check failed ({type(err).__name__}: {err})"]
            support[kernels] = reasons
            problems += [{"op": op.type, "index": op.index, "kernels": kernels, "reason": r} for r in reasons]
        inputs = [graph.tensor(i) for i in op.inputs if i is not None and not graph.tensor(i).is_constant]
        rows.append({
            "index": op.index,
            "op": op.type,
            "output": short_name(graph.tensor(op.outputs[0]).name),
            "inputs": [list(t.shape) for t in inputs],
            "outputs": [list(graph.tensor(i).shape) for i in op.outputs],
            "quant": quant_text(graph, op),
            "macs": op_macs(op, graph),
            "weight_bytes": sum(graph.tensor(i).nbytes for i in op.inputs
                                if i is not None and graph.tensor(i).is_constant),
            "supported": {k: not v for k, v in support.items()},
        })
    model_problems = [{"op": p["op"], "index": p["index"], "kernels": "all", "reason": p["reason"]}
                      for p in check_io(graph) + check_rescales(graph)]
    return {"kernel_sets": list(sets), "ops": rows, "problems": model_problems + problems}


def format_tflite(name: str, result: dict) -> str:
    sets = result["kernel_sets"]
    header = (f"  {'#':>3}  {'op':20s} {'output tensor':{NAME_WIDTH}s} {'inputs -> output':28s} "
              f"{'quantization':30s} {'MACs':>11}  " + "  ".join(f"{k:>8s}" for k in sets))
    lines = [f"{name}: {len(result['ops'])} ops", "", header]
    for row in result["ops"]:
        shapes = ", ".join(_shape_text(s) for s in row["inputs"]) + " -> " + \
            ", ".join(_shape_text(s) for s in row["outputs"])
        lines.append(f"  {row['index']:>3}  {row['op'][:20]:20s} {row['output']:{NAME_WIDTH}s} {shapes:28s} "
                     f"{row['quant'][:30]:30s} {row['macs']:>11,}  "
                     + "  ".join(f"{'yes' if row['supported'][k] else 'NO':>8s}" for k in sets))
    total = sum(r["macs"] for r in result["ops"])
    lines += ["", f"  total MACs {total:,}; weights {sum(r['weight_bytes'] for r in result['ops']):,} bytes"]
    if result["problems"]:
        lines += ["", f"  {len(result['problems'])} problem(s):"]
        lines += [f"    - {p['op']} (op {p['index']}, {p['kernels']}): {p['reason']}" for p in result["problems"]]
    else:
        lines += ["", "  every op is supported by every kernel set"]
    return "\n".join(lines)


def inspect_onnx(path: Path) -> dict:
    """Rows for every ONNX node: type, name, output shapes (where inferable), convertible and why not."""
    import onnx

    from .convert.onnx_checks import SUPPORTED_OPS, GraphIndex, _shapes_folded, load_onnx, node_problem
    from .convert.onnx_norm_rewrites import _ranks

    model = load_onnx(path)
    # Judged on the graph the pre-check and onnx2tf read (constants folded, rank-5/6 data movement on rank-4
    # views); a node folded or rewritten away converts. Nodes are matched by their first output's name.
    folded = _shapes_folded(model)
    graph = GraphIndex(folded.graph, _ranks(folded))
    judged = {node.output[0]: node for node in folded.graph.node if node.output}
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - shapes are a courtesy; the op list is what matters
        inferred = model
    shapes = {}
    for value in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    rows, problems = [], []
    for index, node in enumerate(model.graph.node):
        name = c_comment_text(node.name or f"#{index}", 200)
        if node.domain not in ("", "ai.onnx"):
            reason = f"custom domain '{c_comment_text(node.domain)}'"
        else:
            seen = judged.get(node.output[0]) if node.output else None
            reason = node_problem(seen, graph) if seen is not None and seen.op_type == node.op_type else None
        if reason:
            problems.append({"op": node.op_type, "index": index, "node": name, "reason": reason})
        rows.append({"index": index, "op": c_comment_text(node.op_type, 40), "node": name,
                     "outputs": [shapes.get(o) for o in node.output],
                     "becomes": SUPPORTED_OPS.get(node.op_type, ("-",))[0], "convertible": reason is None})
    return {"ops": rows, "problems": problems}


def format_onnx(name: str, result: dict) -> str:
    lines = [f"{name}: {len(result['ops'])} ONNX nodes", "",
             f"  {'#':>3}  {'op':20s} {'node':{NAME_WIDTH}s} {'output shape':20s} {'convertible':11s} becomes"]
    for row in result["ops"]:
        node = row["node"] if len(row["node"]) <= NAME_WIDTH else "..." + row["node"][-(NAME_WIDTH - 3):]
        shape = ", ".join(_shape_text(s) if s is not None else "?" for s in row["outputs"])
        lines.append(f"  {row['index']:>3}  {row['op'][:20]:20s} {node:{NAME_WIDTH}s} {shape[:20]:20s} "
                     f"{'yes' if row['convertible'] else 'NO':11s} {row['becomes']}")
    if result["problems"]:
        lines += ["", f"  {len(result['problems'])} problem(s):"]
        lines += [f"    - {p['op']} (node '{p['node']}'): {p['reason']}" for p in result["problems"]]
    else:
        lines += ["", "  every node is convertible"]
    lines += ["", "  quantization, MACs and kernel support are per int8 op: run `tinyattend convert MODEL "
                  "--board B -o OUT`, then `tinyattend inspect OUT/model.tflite`"]
    return "\n".join(lines)


def inspect_model(path: Path) -> tuple[str, dict]:
    """(printable table, JSON-ready result with 'ops' and 'problems') for an .onnx or .tflite file."""
    path = Path(path)
    if not path.is_file():
        raise BadModelError(f"{path}: no such file", "check the path to the model")
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        from .ir.tflite_reader import read_tflite
        graph = read_tflite(path.read_bytes(), path.name)
        result = inspect_tflite(graph)
        return format_tflite(path.name, result), result
    if suffix == ".onnx":
        result = inspect_onnx(path)
        return format_onnx(path.name, result), result
    raise BadModelError(f"{path}: inspect reads .tflite and .onnx files, not '{suffix or '(no suffix)'}'",
                        "convert Keras/SavedModel models first, then inspect OUT/model.tflite")
