"""Issue 17's figures: peak RAM (arena + stack high-water), instructions and bit-exactness on the
emulated Cortex-M7 (`--kernels auto --optimize balanced`), with fusion and without it
(TINYATTEND_FUSION=off: the plan and kernels of the commit before fusion), paired in one run.

The zoo models are exported and converted as `make bench` does (seeded random weights, synthetic
calibration) and cached under OUT_DIR; the MLPerf Tiny models are read from ../shared/models.

    python tools/fusion_figures.py [-o fusion-out] [--models attendnext-micro,attendnets-micro,vww_96_int8]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_MODELS = "attendnext-micro,attendnets-micro,vww_96_int8"
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"

# One model, one fusion setting, in a process of its own (the knob is read at generation time).
ROW = """
import json, sys
from pathlib import Path
from tinyattend.boards import load_board
from tinyattend.pipeline import write_project
from tinyattend.run.bench import bench
tflite, stage, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
board = load_board("cortex-m7")
report = write_project(stage, tflite.read_bytes(), board, kernels="auto", optimize="balanced", model_name=name)
r = bench(stage, board, timeout=900)
print(json.dumps({"arena": r["arena_bytes"], "stack": r["stack_bytes"], "peak_ram": r["peak_ram_bytes"],
                  "instructions": r["instructions"], "bit_exact": r["bit_exact"],
                  "tflm_arena": report.get("tflm_arena_bytes"), "fused_groups": len(report["fused_groups"]),
                  "upsample_mul_ops": report["upsample_mul_ops"]}))
"""


def tflite_of(name: str, cache: Path) -> Path:
    shared = SHARED_MODELS / f"{name}.tflite"
    if shared.is_file():
        return shared
    path = cache / f"{name}.tflite"
    if not path.is_file():
        from tinyattend.convert import convert_model
        from tinyattend.zoo.export import export_zoo_model
        path.write_bytes(convert_model(export_zoo_model(name, cache / f"{name}.onnx"), progress=False).tflite)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="fusion-out")
    parser.add_argument("--models", default=DEFAULT_MODELS)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| model | peak RAM off -> on | vs TFLM arena | instructions off -> on | bit-exact |")
    print("|---|---|---|---|---|")
    for name in args.models.split(","):
        tflite = tflite_of(name, out)
        row = {"model": name}
        for setting in ("off", "auto"):
            env = dict(os.environ, TINYATTEND_FUSION="off" if setting == "off" else "")
            done = subprocess.run([sys.executable, "-c", ROW, str(tflite), str(out / name / setting), name],
                                  env=env, capture_output=True, text=True, check=True)
            row[setting] = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        off, on = row["off"], row["auto"]
        tflm = on["tflm_arena"] or 0
        print(f"| {name} | {off['peak_ram']:,} -> {on['peak_ram']:,} B | "
              f"{off['peak_ram'] / tflm:.3f}x -> {on['peak_ram'] / tflm:.3f}x | "
              f"{off['instructions']:,} -> {on['instructions']:,} ({on['instructions'] / off['instructions'] - 1:+.2%}) | "
              f"{off['bit_exact'] and on['bit_exact']} |", flush=True)
    (out / "fusion.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
