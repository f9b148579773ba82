"""`make frontend-compare`: the direct ONNX front end against onnx2tf's TensorFlow path, model by model.

For each model of `make coverage`'s list (exported the same way, cached in OUT/onnx/), both front ends
convert it (`TINYATTEND_ONNX_FRONTEND=direct`, then `=tensorflow`; `--board host`, noise calibration), and
`tinyattend verify` checks each result bit-exact against its oracle on the host. The table gives, per
front end: convert seconds (wall, whole process), SQNR against the float model, ops in the int8 graph, and
the verify result; and whether the two int8 models are the same bytes. Writes OUT/frontends.json and
OUT/frontends.md.

    python tools/frontend_compare.py [-o frontend-out] [--models a,b] [--samples 5]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_coverage import MODELS, TINYATTEND, _first_error, _run  # noqa: E402

FRONTENDS = ("direct", "tensorflow")


def export(spec, folder: Path) -> Path | str:
    """The model's ONNX file (exported once), or the export error."""
    path = folder / f"{spec.name}.onnx"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    code, log, _ = _run([sys.executable, str(Path(__file__).parent / "model_coverage.py"), "--export-one", spec.name,
                         "--size", str(spec.size), "--to", str(path)], timeout=900)
    return path if code == 0 else f"export: {_first_error(log)}"


def convert(onnx_path: Path, frontend: str, out: Path, samples: int) -> dict:
    env = dict(os.environ, TINYATTEND_ONNX_FRONTEND=frontend)
    start = time.monotonic()
    try:
        done = subprocess.run([*TINYATTEND, "convert", str(onnx_path), "--board", "host", "-o", str(out)],
                              capture_output=True, text=True, timeout=1800, env=env)
        code, log = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, log = -1, "timed out"
    result = {"convert_s": round(time.monotonic() - start, 1)}
    if code != 0:
        return {**result, "status": f"convert: {_first_error(log)}"}
    report = json.loads((out / "report.json").read_text())
    error = report.get("quantization_error") or {}
    histogram = report.get("op_histogram") or {}
    result.update(sqnr_db=error.get("sqnr_db"), ops=sum(histogram.values()), histogram=histogram)
    code, log, _ = _run([*TINYATTEND, "verify", str(out), "--samples", str(samples)], 1800)
    result["status"] = "bit-exact" if code == 0 and "PASS" in log else f"verify: {_first_error(log)}"
    return result


def markdown(rows: list[dict]) -> str:
    lines = ["| model | direct: s | SQNR dB | ops | host | TF path: s | SQNR dB | ops | host | same int8 bytes |",
             "|" + "---|" * 10]
    for row in rows:
        cells = [row["model"]]
        for frontend in FRONTENDS:
            r = row.get(frontend) or {}
            cells += [str(r.get("convert_s", "-")), str(r.get("sqnr_db", "-")), str(r.get("ops", "-")),
                      str(r.get("status", row.get("error", "-"))).replace("|", "/")[:120]]
        cells.append({True: "yes", False: "no", None: "-"}[row.get("same_bytes")])
        lines.append("| " + " | ".join(cells) + " |")
    direct = sum(1 for r in rows if (r.get("direct") or {}).get("status") == "bit-exact")
    tf = sum(1 for r in rows if (r.get("tensorflow") or {}).get("status") == "bit-exact")
    lines.append(f"\nBit-exact on the host: direct {direct} of {len(rows)}, TensorFlow path {tf} of {len(rows)}. "
                 "Seconds are whole-process wall time on a shared machine (compare within a row).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("frontend-out"))
    parser.add_argument("--models", help="comma-separated subset of: " + ", ".join(s.name for s in MODELS))
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args(argv)
    wanted = set(args.models.split(",")) if args.models else None
    specs = [s for s in MODELS if wanted is None or s.name in wanted]
    rows = []
    for number, spec in enumerate(specs, 1):
        print(f"[{number}/{len(specs)}] {spec.name}", file=sys.stderr, flush=True)
        onnx_path = export(spec, args.out / "onnx")
        row: dict = {"model": spec.name}
        if isinstance(onnx_path, str):
            row["error"] = onnx_path
        else:
            for frontend in FRONTENDS:
                out = args.out / spec.name / frontend
                row[frontend] = convert(onnx_path, frontend, out, args.samples)
                print(f"    {frontend}: {row[frontend]['status']} in {row[frontend]['convert_s']} s", file=sys.stderr,
                      flush=True)
            files = [args.out / spec.name / f / "model.tflite" for f in FRONTENDS]
            row["same_bytes"] = files[0].read_bytes() == files[1].read_bytes() if all(f.is_file() for f in files) \
                else None
        rows.append(row)
        (args.out / "frontends.json").write_text(json.dumps(rows, indent=1))
        (args.out / "frontends.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
