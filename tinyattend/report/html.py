"""`tinyattend report OUT`: one self-contained HTML page with plots, from OUT/report.json and the
last bench (OUT/bench.json, written by `tinyattend bench`), if any.

Writes OUT/report/ whole or not at all (index.html with the PNGs embedded as data URIs, the same PNGs
as files, figures.json), and adds the figures' data to OUT/report.json under "figures" for machines.
Per-layer quantization error appears when report.json has "layer_errors" (see report/layer_error.py).
"""
from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

from ..errors import OutputDirError
from . import plots

REPORT_DIR = "report"


def _load_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise OutputDirError(f"{path} is unreadable ({err})", "re-run the step that wrote it") from None


def _per_op(out_dir: Path, report: dict) -> list[dict]:
    """One row per op in execution order: type, output shape, MACs, weight bytes (from OUT/model.tflite)."""
    tflite = out_dir / "model.tflite"
    if not tflite.is_file():
        return [{"index": l["index"], "op": l["op"], "output": l.get("output"), "macs": l.get("macs", 0),
                 "weight_bytes": None} for l in report.get("layers", [])]
    from ..inspect import op_macs, short_name
    from ..ir.tflite_reader import read_tflite
    graph = read_tflite(tflite.read_bytes(), report.get("model", "model"))
    return [{"index": op.index, "op": op.type, "tensor": short_name(graph.tensor(op.outputs[0]).name, 60),
             "output": list(graph.tensor(op.outputs[0]).shape), "macs": op_macs(op, graph),
             "weight_bytes": sum(graph.tensor(i).nbytes for i in op.inputs
                                 if i is not None and graph.tensor(i).is_constant)}
            for op in graph.ops]


def _board_fit(report: dict, bench: dict | None) -> dict | None:
    from ..boards import load_board
    from ..errors import BoardError
    try:
        board = load_board(report["board"])
    except (BoardError, KeyError):
        return None
    if board.flash is None or board.ram is None:
        return None
    arena = report.get("arena_bytes", 0)
    if bench and bench.get("board") == board.name:
        weights = bench.get("weights_bytes") or report.get("weight_bytes", 0)
        flash = {"weights": weights, "code and other constants": max(0, bench["text_bytes"] - weights),
                 "initialised data": bench.get("data_bytes", 0)}
        from ..build.firmware import DEFAULT_STACK_SIZE
        stack = int(board.firmware.get("stack_size", DEFAULT_STACK_SIZE))
        ram = {"arena": bench["arena_bytes"],
               f"stack reserved (high-water {bench['stack_bytes']:,} B)": stack,
               "heap and other static data": max(0, bench.get("bss_bytes", 0) + bench.get("data_bytes", 0)
                                                 - bench["arena_bytes"] - stack)}
        source = "bench"
    else:
        flash = {"weights": report.get("weight_bytes", 0)}
        ram = {"arena": arena}
        source = "plan (run `tinyattend bench` for code, stack and static data)"
    return {"board": board.name, "source": source,
            "flash": {"capacity": board.flash.length, "parts": flash},
            "ram": {"capacity": board.ram.length, "parts": ram}}


def figures(out_dir: Path, report: dict, bench: dict | None) -> dict:
    """The data behind every plot, JSON-ready (also stored in report.json under 'figures')."""
    rows = _per_op(out_dir, report)
    by_index = {r["index"]: r for r in rows}
    timed = []
    if bench and bench.get("layers"):
        # Bench layer i is the i-th generated kernel call: report["layers"][i] names its op.
        for layer, kernel in zip(bench["layers"], report.get("layers", [])):
            row = by_index.get(kernel["index"], {})
            macs = kernel.get("macs", row.get("macs", 0))
            timed.append({"index": kernel["index"], "op": kernel["op"], "count": layer["instructions"],
                          "macs": macs, "count_per_mac": round(layer["instructions"] / macs, 3) if macs else None})
    errors = report.get("layer_errors") or []
    return {
        "ops": rows,
        "arena": {"arena_bytes": report.get("arena_bytes", 0), "buffers": report.get("buffers", []),
                  "memory_timeline": report.get("memory_timeline", []),
                  "fused_groups": report.get("fused_groups", []),
                  "upsample_mul_groups": report.get("upsample_mul_groups", [])},
        "timing": {"unit": bench.get("count_unit", "instructions") if bench else None,
                   "total": bench.get("instructions") if bench else None, "layers": timed},
        "layer_errors": errors,
        "fit": _board_fit(report, bench),
    }


def render_pngs(fig: dict) -> dict[str, bytes]:
    """File name -> PNG bytes for every figure there is data for."""
    pngs = {}
    ops = [r["op"] for r in fig["ops"]]
    arena = fig["arena"]
    if arena["buffers"]:
        pngs["arena_timeline.png"] = plots.arena_timeline(arena["buffers"], arena["memory_timeline"], ops,
                                                          arena["arena_bytes"], arena.get("fused_groups"),
                                                          arena.get("upsample_mul_groups"))
    if fig["timing"]["layers"]:
        unit = fig["timing"]["unit"].split(" (")[0]
        pngs["layer_instructions.png"] = plots.layer_instructions(fig["timing"]["layers"], unit,
                                                                  fig["timing"]["total"])
    if any(r.get("weight_bytes") is not None for r in fig["ops"]):
        pngs["weights_per_layer.png"] = plots.weights_per_layer(
            [{**r, "weight_bytes": r.get("weight_bytes") or 0} for r in fig["ops"]])
    if fig["layer_errors"]:
        pngs["layer_error.png"] = plots.layer_error(fig["layer_errors"])
    if fig["fit"]:
        pngs["board_fit.png"] = plots.board_fit(fig["fit"])
    return pngs


_SECTIONS = (
    ("board_fit.png", "Fit on the board", "Flash and RAM the model uses against what the board has."),
    ("arena_timeline.png", "Arena timeline",
     "Each box is one activation buffer: its height is the bytes it occupies in the arena, its width the ops "
     "it is live for. The shaded column is the op at which the most bytes are live."),
    ("layer_instructions.png", "Time per layer",
     "Measured by `tinyattend bench` on one inference; the lower panel divides by each layer's MACs."),
    ("weights_per_layer.png", "Weights per layer", "Constant bytes (weights and biases) each op reads from flash."),
    ("layer_error.png", "Per-layer quantization error",
     "SQNR of each layer's int8 output against the float model (higher is better), and the SQNR each layer "
     "loses relative to its inputs; the layer that loses the most is marked."),
)


def _e(value) -> str:
    return html.escape(str(value))


def render_html(report: dict, bench: dict | None, fig: dict, pngs: dict[str, bytes]) -> str:
    summary = [("model", report.get("model")), ("board", report.get("board")), ("kernels", report.get("kernels")),
               ("parameters", report.get("params")), ("MACs", report.get("macs")),
               ("weight bytes", report.get("weight_bytes")), ("arena bytes (our plan)", report.get("arena_bytes")),
               ("arena bytes TFLM needs", report.get("tflm_arena_bytes"))]
    if bench:
        summary += [(f"{bench['count_unit']}, one inference", bench.get("instructions")),
                    ("MACs per instruction" if bench.get("emulated") else "MACs per cycle", bench.get("macs_per_instruction")),
                    ("peak RAM bytes (arena + stack)", bench.get("peak_ram_bytes")),
                    ("flash bytes", bench.get("flash_bytes")),
                    ("output = TFLM, bit for bit", "yes" if bench.get("bit_exact") else "NO")]
    q = report.get("quantization_error")
    if q:
        if q.get("sqnr_db") is not None:
            summary.append(("int8 vs float output SQNR", f"{q['sqnr_db']:.1f} dB"))
        if q.get("max_error_over_range") is not None:
            summary.append(("int8 vs float max |err| / output range", f"{100 * q['max_error_over_range']:.2g}%"))
        summary.append(("int8 vs float top-1 agreement", f"{100 * q['top1_agreement']:.1f}% on {q['samples']} samples"))
    parts = ["<!doctype html>", "<html><head><meta charset='utf-8'>",
             f"<title>tinyattend report: {_e(report.get('model', 'model'))}</title>",
             "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "td:nth-child(2),th:nth-child(2),td.l{text-align:left}img{max-width:100%;border:1px solid #eee}"
             ".bad{color:#c0392b;font-weight:bold}.note{color:#555}</style></head><body>",
             f"<h1>{_e(report.get('model', 'model'))} on {_e(report.get('board', '?'))}</h1>", "<table>"]
    for label, value in summary:
        if value is not None:
            parts.append(f"<tr><th class='l'>{_e(label)}</th><td>{_e(f'{value:,}' if isinstance(value, int) else value)}</td></tr>")
    parts.append("</table>")
    for warning in report.get("warnings", []):
        parts.append(f"<p class='note'>warning: {_e(warning)}</p>")
    if not bench:
        parts.append("<p class='note'>No bench yet: run <code>tinyattend bench OUT --board B</code> for time per layer.</p>")
    if not fig["layer_errors"]:
        parts.append("<p class='note'>No per-layer quantization error: it needs the float model (convert from "
                     "ONNX/Keras/SavedModel, not from an int8 .tflite).</p>")
    for name, title, text in _SECTIONS:
        if name in pngs:
            data = base64.b64encode(pngs[name]).decode("ascii")
            parts += [f"<h2>{_e(title)}</h2>", f"<p class='note'>{_e(text)}</p>",
                      f"<img alt='{_e(title)}' src='data:image/png;base64,{data}'>"]
    parts += ["<h2>Layers</h2>", _layer_table(fig), "</body></html>"]
    return "\n".join(parts) + "\n"


def _layer_table(fig: dict) -> str:
    timing = {t["index"]: t for t in fig["timing"]["layers"]}
    errors = {e["index"]: e for e in fig["layer_errors"]}
    unit = (fig["timing"]["unit"] or "instructions").split(" (")[0]
    head = ["#", "op", "output tensor", "output shape", "MACs", "weight bytes", unit, f"{unit}/MAC",
            "SQNR dB", "SQNR lost dB"]
    rows = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for r in fig["ops"]:
        t, e = timing.get(r["index"], {}), errors.get(r["index"], {})
        flagged = " class='bad'" if e.get("flagged") or e.get("worst") else ""
        cells = [r["index"], r["op"], r.get("tensor", ""), "x".join(map(str, r.get("output") or [])),
                 f"{r['macs']:,}", f"{r['weight_bytes']:,}" if r.get("weight_bytes") is not None else "",
                 f"{t['count']:,}" if t else "", t.get("count_per_mac") or "",
                 e.get("channel_sqnr_db", ""), e.get("loss_db", "")]
        rows.append(f"<tr{flagged}>" + "".join(
            f"<td class='l'>{_e(c)}</td>" if i == 2 else f"<td>{_e(c)}</td>" for i, c in enumerate(cells)) + "</tr>")
    return "\n".join(rows + ["</table>"])


def _update_report_json(path: Path, fig: dict) -> None:
    """Add the figures to report.json, atomically (other verbs read it)."""
    report = json.loads(path.read_text())
    report["figures"] = fig
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    os.replace(temp, path)


def write_report(out_dir: Path) -> Path:
    """Write OUT/report/ (index.html, PNGs, figures.json); returns the path of index.html."""
    from ..outdir import staged_output

    out_dir = Path(out_dir)
    from ..outdir import read_report
    if not (out_dir / "report.json").is_file():
        raise OutputDirError(f"{out_dir} has no report.json",
                             "give a directory written by `tinyattend convert MODEL --board B -o OUT`")
    report = read_report(out_dir)
    bench = _load_json(out_dir / "bench.json")
    fig = figures(out_dir, report, bench)
    pngs = render_pngs(fig)
    page = render_html(report, bench, fig, pngs)
    with staged_output(out_dir / REPORT_DIR) as stage:
        for name, data in pngs.items():
            (stage / name).write_bytes(data)
        (stage / "figures.json").write_text(json.dumps(fig, indent=2) + "\n")
        (stage / "index.html").write_text(page)
    _update_report_json(out_dir / "report.json", fig)
    return out_dir / REPORT_DIR / "index.html"


def report_command(args) -> int:
    page = write_report(Path(args.out))
    print(f"tinyattend: report written to {page}")
    for name in sorted(p.name for p in page.parent.glob("*.png")):
        print(f"  {page.parent / name}")
    return 0
