"""Top-1 of a converted model as it will run: the generated int8 C, built for the host, on labelled inputs.

The generated C is bit-exact with TFLM (`tinyattend verify`), so this is the deployed model's accuracy,
not the float model's. Used by `make demo` and by every trial of `tinyattend search`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np


def int8_top1_on_host(out: Path, x: np.ndarray, labels: np.ndarray, layout: str = "nchw") -> float:
    """Top-1 of OUT's model.tflite (written by `tinyattend convert`) on float inputs `x` ([N, C, H, W] for
    layout nchw, else the model's own NHWC), quantized as the model's input."""
    from .boards import load_board
    from .build.host import build_host, run_host
    from .pipeline import write_project
    out = Path(out)
    report = json.loads((out / "report.json").read_text())
    x = np.asarray(x, np.float32)
    if layout == "nchw" and x.ndim == 4:
        x = np.transpose(x, (0, 2, 3, 1))
    scale, zero_point = report["input"]["scale"], report["input"]["zero_point"]
    q = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
    q = q.reshape((len(q), *report["input"]["shape"]))
    host_out = out.parent / f".{out.name}-host"
    shutil.rmtree(host_out, ignore_errors=True)
    host_out.mkdir(parents=True)
    try:
        write_project(host_out, (out / "model.tflite").read_bytes(), load_board("host"), kernels="auto",
                      optimize="balanced", model_name=report.get("model", "model"), measure_tflm_arena=False)
        outputs = run_host(build_host(host_out), q, int(np.prod(report["input"]["shape"])),
                           tuple(report["output"]["shape"]))
    finally:
        shutil.rmtree(host_out, ignore_errors=True)
    predictions = outputs.reshape(len(q), -1).argmax(axis=1)
    return float((predictions == np.asarray(labels)).mean())
