"""Issue 17's RAM ceiling for `--kernels cmsis-nn`: per model, our arena, stack high-water mark and peak RAM on an
emulated board against TFLM's arena as `make bench` compares with (tools/fusion_figures.tflm_arena: measured
TFLM + CMSIS-NN where the very .tflite was measured, else the activation part of the arena TFLM's host
interpreter allocates), with the PADs folded into CMSIS-NN convolutions, bit-exactness and instructions.
Needs CMSIS_NN_PATH. Prints one JSON row per model.

    CMSIS_NN_PATH=... python tools/cmsis_nn_ram.py --models-dir bench-out [--board cortex-m7] [-o cmsis-ram-out]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))       # this checkout's tinyattend is measured, whatever the venv has installed
sys.path.insert(0, str(REPO / "tools"))

MLPERF = "ad01_int8,kws_ref_model,pretrainedResnet_quant,vww_96_int8"
ZOO = "attendnext_digits,attendnext-micro,attendnets-micro,lowformer-micro"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=f"{MLPERF},{ZOO}")
    parser.add_argument("--models-dir", default="bench-out", help="where the zoo's .tflite files are, or go")
    parser.add_argument("--board", default="cortex-m7")
    parser.add_argument("-o", "--out", default="cmsis-ram-out")
    args = parser.parse_args()
    from fusion_figures import tflite_of, tflm_arena
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project
    from tinyattend.run.bench import bench
    out, models_dir, board = Path(args.out), Path(args.models_dir), load_board(args.board)
    out.mkdir(parents=True, exist_ok=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        tflite = tflite_of(name, models_dir)
        tflm = tflm_arena(name, args.board, tflite, models_dir)
        report = write_project(out / name, tflite.read_bytes(), board, kernels="cmsis-nn", optimize="balanced",
                               model_name=name, measure_tflm_arena=False)
        r = bench(out / name, board, timeout=900)
        print(json.dumps({"model": name, "board": args.board, "arena": r["arena_bytes"], "stack": r["stack_bytes"],
                          "peak_ram": r["peak_ram_bytes"], "tflm_arena": tflm,
                          "ratio": round(r["peak_ram_bytes"] / tflm, 3) if tflm else None,
                          "folded_pads": report["folded_ops"], "instructions": r["instructions"],
                          "bit_exact": r["bit_exact"]}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
