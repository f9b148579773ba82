"""`make demo`: the bundled AttendNeXt digits model, end to end on the emulated Cortex-M7.

convert (ONNX -> calibrated int8 TFLite -> C) -> bench on QEMU (instructions,
memory, flash, bit-exactness against TFLM) -> the top-1 of the int8 C model on
held-out digits, run through the generated code on the host.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from .boards import load_board
from .errors import BadModelError
from .resources import demo_model_file

DEMO_MODEL = demo_model_file("attendnext_digits.onnx")
DEMO_CALIB = demo_model_file("attendnext_digits_calib.npy")
DEMO_TEST = demo_model_file("attendnext_digits_test.npz")


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def int8_accuracy_on_host(out: Path, test_file: Path) -> tuple[float, int]:
    """Top-1 of the generated C (host build) on the held-out digits, quantized as the model's input."""
    from .build.host import build_host, run_host
    from .pipeline import write_project
    report = json.loads((out / "report.json").read_text())
    data = np.load(test_file)
    x, labels = data["x"].astype(np.float32), data["y"]
    x = np.transpose(x, (0, 2, 3, 1)) if x.shape[1] in (1, 3) and x.ndim == 4 else x    # NCHW -> NHWC
    scale, zero_point = report["input"]["scale"], report["input"]["zero_point"]
    q = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
    q = q.reshape((len(q), *report["input"]["shape"]))
    host_out = out.parent / f".{out.name}-host"
    shutil.rmtree(host_out, ignore_errors=True)
    host_out.mkdir(parents=True)
    try:
        write_project(host_out, (out / "model.tflite").read_bytes(), load_board("host"), kernels="auto",
                      optimize="balanced", model_name="attendnext_digits", measure_tflm_arena=False)
        outputs = run_host(build_host(host_out), q, int(np.prod(report["input"]["shape"])),
                           tuple(report["output"]["shape"]))
    finally:
        shutil.rmtree(host_out, ignore_errors=True)
    predictions = outputs.reshape(len(q), -1).argmax(axis=1)
    return float((predictions == labels).mean()), len(labels)


def demo_command(args) -> int:
    from .api import bench, convert
    from .pipeline import print_summary
    from .run.bench import format_table
    if not DEMO_MODEL.is_file():
        raise BadModelError(f"the demo model {DEMO_MODEL} is missing",
                            "regenerate it: .venv/bin/python -m tinyattend.zoo.train_demo")
    out = Path(args.out)
    started = time.monotonic()
    _step(f"1/3 convert {DEMO_MODEL.name} for {args.board} (ONNX -> calibrated int8 TFLite -> C)")
    converted = convert(DEMO_MODEL, board=args.board, out=out, calib=DEMO_CALIB, kernels="auto", progress=True)
    print_summary(converted.report, out)
    _step(f"2/3 build with arm-none-eabi-gcc and run on the emulated {args.board} (QEMU, -icount shift=0)")
    measured = bench(out, args.board)
    print(format_table(measured.report))
    if not measured.bit_exact:
        return 1
    _step("3/3 accuracy of the generated int8 C on the held-out digits (host build)")
    accuracy, count = int8_accuracy_on_host(out, DEMO_TEST)
    print(f"  top-1 of the int8 C model: {100 * accuracy:.1f}% on {count} held-out digits")
    print(f"\ndemo done in {time.monotonic() - started:.0f} s; project in {out}/ "
          f"(firmware/ builds with make; report.json has the figures; `tinyattend report {out}` draws them)")
    return 0
