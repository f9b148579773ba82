"""OUT/README.md: how to call the generated library, where each file came from, and this
conversion's figures (from report.json)."""
from __future__ import annotations

from pathlib import Path

import jinja2

from .. import __version__
from ..codegen.prefix import DEFAULT_PREFIX, MODEL_FILES, file_name
from ..resources import templates_dir

CTYPES = {"int8": "int8_t", "float32": "float"}
ARENA_ALIGN = 16     # templates/model/model.h.j2's TA_ARENA_ALIGN


def _origin(name: str, prefix: str, kernel_paths: dict[str, str]) -> str:
    """Which template or kernel source a generated file comes from."""
    for original in MODEL_FILES:
        if name == file_name(original, prefix):
            return f"`templates/model/{original}.j2`, rendered for this model"
    if name in ("CMakeLists.txt", "model.mk"):
        return f"`templates/library/{name}.j2`"
    if name == file_name("ta_paths.h", prefix):
        return "written by `tinyattend.codegen.emit`: which optional kernel paths this model's layers take"
    base = "ta_" + name[len(prefix) + 1:] if prefix != DEFAULT_PREFIX and name.startswith(prefix + "_") else name
    if base in kernel_paths:
        renamed = "" if prefix == DEFAULT_PREFIX else f", names prefixed `{prefix}_`"
        return f"`templates/kernels/{kernel_paths[base]}` (tinyattend's own kernel{renamed})"
    return "generated"


def _size(value) -> str:
    return "n/a" if value is None else f"{value:,}"


def _figures(report: dict) -> list[tuple[str, str]]:
    rows = [("parameters", _size(report.get("params"))), ("MACs", _size(report.get("macs"))),
            ("weight bytes (constant data)", _size(report.get("weight_bytes"))),
            ("arena bytes (our plan)", _size(report.get("arena_bytes"))),
            ("arena bytes TFLM needs for the same model (host build)", _size(report.get("tflm_arena_bytes"))),
            ("ops", str(len(report.get("ops", [])))),
            ("kernels (requested -> used)", f"{report.get('kernels_requested', '?')} -> {report.get('kernels', '?')}")]
    q = report.get("quantization_error")
    if q:
        rows.append((f"int8 vs float, {q['samples']} held-out samples",
                     f"top-1 agreement {100 * q['top1_agreement']:.1f}%, max abs error {q['max_abs_error']:.4g}, "
                     f"mean abs error {q['mean_abs_error']:.4g}" if q.get("top1_agreement") is not None else
                     f"max abs error {q['max_abs_error']:.4g}, mean abs error {q['mean_abs_error']:.4g}"))
    if report.get("total_seconds") is not None:
        rows.append(("conversion time", f"{report['total_seconds']} s"))
    return rows


def render_readme(report: dict, out: Path) -> str:
    prefix = report.get("prefix", DEFAULT_PREFIX)
    kernel_paths = {p.name: p.relative_to(templates_dir() / "kernels").as_posix()
                    for p in (templates_dir() / "kernels").rglob("ta_*") if p.is_file()}
    model_dir = Path(out) / "model"
    names = sorted(p.name for p in model_dir.iterdir() if p.is_file()) if model_dir.is_dir() else []
    files = [(f"model/{name}", _origin(name, prefix, kernel_paths)) for name in names]
    files += [("model.tflite", "the full-integer int8 TFLite model the C was generated from (the TFLM reference)"),
              ("report.json", "every figure of this conversion, machine-readable")]
    io = {key: report.get(key) or {"shape": [], "dtype": "int8", "scale": None, "zero_point": None}
          for key in ("input", "output")}

    def nbytes(entry: dict) -> int:
        count = 1
        for d in entry["shape"]:
            count *= d
        return count * (4 if entry["dtype"] == "float32" else 1)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "library")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template("README.md.j2").render(
        version=__version__, model=report.get("model", "model"), board=report.get("board", "?"),
        kernels=report.get("kernels", "?"), optimize=report.get("optimize", "?"), prefix=prefix, P=prefix.upper(),
        header=file_name("model.h", prefix), arena_bytes=report.get("arena_bytes") or 0, arena_align=ARENA_ALIGN,
        input=io["input"], output=io["output"], input_bytes=nbytes(io["input"]), output_bytes=nbytes(io["output"]),
        input_ctype=CTYPES.get(io["input"]["dtype"], "int8_t"), output_ctype=CTYPES.get(io["output"]["dtype"], "int8_t"),
        files=files, figures=_figures(report), warnings=report.get("warnings", []))
