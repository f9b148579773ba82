"""`make demo`: the bundled AttendNeXt digits model, end to end on the emulated Cortex-M7.

convert (ONNX -> calibrated int8 TFLite -> C) -> bench on QEMU (instructions,
memory, flash, bit-exactness against TFLM) -> the top-1 of the int8 C model on
held-out digits, run through the generated code on the host.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .errors import BadModelError
from .resources import demo_model_file

DEMO_MODEL = demo_model_file("attendnext_digits.onnx")
DEMO_CALIB = demo_model_file("attendnext_digits_calib.npy")
DEMO_TEST = demo_model_file("attendnext_digits_test.npz")


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def int8_accuracy_on_host(out: Path, test_file: Path) -> tuple[float, int]:
    """Top-1 of the generated C (host build) on the held-out digits, quantized as the model's input."""
    from .evaluate import int8_top1_on_host
    data = np.load(test_file)
    return int8_top1_on_host(out, data["x"], data["y"]), len(data["y"])


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
