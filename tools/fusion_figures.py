"""Issue 17's figures: peak RAM (arena + stack high-water), instructions and bit-exactness on the
emulated boards (`--kernels auto --optimize balanced`), with fusion and without it
(TINYATTEND_FUSION=off: the plan and kernels of the commit before fusion), paired in one run.

The zoo models are exported and converted as `make bench` does (seeded random weights, synthetic
calibration) and cached under OUT_DIR (a `make bench` output directory's copies are taken as they
are); the MLPerf Tiny models are read from ../shared/models. Rows already in OUT_DIR/fusion.json are
kept when they were measured at the same commit, so an interrupted run goes on where it stopped.
Writes OUT_DIR/fusion.md (the table) and fusion.json.

    python tools/fusion_figures.py [-o fusion-out] [--models attendnext-micro,attendnets-micro,vww_96_int8]
                                   [--boards cortex-m7,cortex-m4] [--models-dir bench-out]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_MODELS = "attendnext-micro,attendnets-micro,vww_96_int8"
REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
sys.path.insert(0, str(REPO))       # this checkout's tinyattend is measured, whatever the venv has installed

# One model, one board, one fusion setting, in a process of its own (the knob is read at generation time).
ROW = """
import json, sys
from pathlib import Path
from tinyattend.boards import load_board
from tinyattend.pipeline import write_project
from tinyattend.run.bench import bench
tflite, stage, name, board = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], load_board(sys.argv[4])
report = write_project(stage, tflite.read_bytes(), board, kernels="auto", optimize="balanced", model_name=name,
                       measure_tflm_arena=False)
r = bench(stage, board, timeout=900)
print(json.dumps({"arena": r["arena_bytes"], "stack": r["stack_bytes"], "peak_ram": r["peak_ram_bytes"],
                  "instructions": r["instructions"], "bit_exact": r["bit_exact"], "kernels": r["kernels"],
                  "fused_groups": len(report["fused_groups"]),
                  "upsample_mul_ops": report["upsample_mul_ops"],
                  "upsample_mul_residuals": report.get("upsample_mul_residuals", 0)}))
"""


def tflite_of(name: str, cache: Path) -> Path:
    shared = SHARED_MODELS / f"{name}.tflite"
    if shared.is_file():
        return shared
    path = cache / f"{name}.tflite"
    if not path.is_file():
        import torch
        from tinyattend.convert import convert_model
        from tinyattend.zoo.export import export_zoo_model
        torch.manual_seed(0)            # as make bench exports them (bench_all.zoo_models)
        path.write_bytes(convert_model(export_zoo_model(name, cache / f"{name}.onnx"), progress=False).tflite)
    return path


def tflm_arena(name: str, board: str, tflite: Path, out: Path) -> int | None:
    """TFLM's arena as `make bench` compares with (bench_all.py): measured on that board, else on the M7
    for the very .tflite, else the activation part TFLM's interpreter allocates on the host."""
    from tinyattend.run import bench_all
    base = (bench_all.board_baseline(name, board, tflite) or bench_all.BASELINE.get(name)
            or bench_all.zoo_baseline(name, board, tflite))
    if base:
        return base["arena"]
    arena_file = out / f"{name}.tflm_arena.json"
    if not arena_file.is_file():
        from tinyattend.verify import tflm_arena as measure
        arena_file.write_text(json.dumps(measure(tflite.read_bytes())) + "\n")
    return json.loads(arena_file.read_text())["tflm_arena_head"]


def line(row: dict) -> str:
    off, on = row["off"], row["auto"]
    tflm = row["tflm_arena"]
    ratio = f"{on['peak_ram'] / off['peak_ram']:.3f}"
    return (f"| {row['model']} | {row['board']} | {on['kernels']} | {off['peak_ram']:,} | {on['peak_ram']:,} | {ratio}"
            f"{' RAISED' if on['peak_ram'] > off['peak_ram'] else ''} | {tflm:,} | "
            f"{off['peak_ram'] / tflm:.3f}x -> {on['peak_ram'] / tflm:.3f}x | "
            f"{off['instructions']:,} | {on['instructions']:,} | {on['instructions'] / off['instructions'] - 1:+.2%} | "
            f"{off['bit_exact'] and on['bit_exact']} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="fusion-out")
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--boards", default="cortex-m7")
    parser.add_argument("--models-dir", help="where the zoo's .tflite files are, or go (default: OUT)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = Path(args.models_dir) if args.models_dir else out
    done_file = out / "fusion.json"
    from tinyattend.run.bench_all import source_commit
    commit = source_commit()
    # rows of an interrupted run at this very commit are kept; any other run is measured again
    kept = json.loads(done_file.read_text()) if done_file.is_file() and not commit.endswith("dirty") else []
    rows, lines = [], ["| model | board | kernels | peak RAM off | peak RAM on | on/off | TFLM arena | vs TFLM arena | "
                       "instructions off | instructions on | change | bit-exact |",
                       "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name in args.models.split(","):
        tflite = tflite_of(name, models_dir)
        for board in args.boards.split(","):
            row = next((r for r in kept if r["model"] == name and r["board"] == board and r.get("commit") == commit),
                       None)
            if row is None:
                row = {"model": name, "board": board, "commit": commit,
                       "tflm_arena": tflm_arena(name, board, tflite, models_dir)}
                for setting in ("off", "auto"):
                    env = dict(os.environ, TINYATTEND_FUSION="off" if setting == "off" else "",
                               PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
                    done = subprocess.run([sys.executable, "-c", ROW, str(tflite), str(out / name / board / setting),
                                           name, board], env=env, capture_output=True, text=True, check=True)
                    row[setting] = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            done_file.write_text(json.dumps(rows + [r for r in kept if r not in rows], indent=1) + "\n")
            lines.append(line(row))
            print(lines[-1], flush=True)
    (out / "fusion.md").write_text("\n".join([*lines, "", f"Measured at tinyattend commit {commit}."]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
