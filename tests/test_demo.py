"""`make demo` end to end: the bundled AttendNeXt digits model, converted, run bit-exact on the
emulated Cortex-M7, and accurate as int8 C on the held-out digits; then (`hil`) the same model
through the UART protocol on the --hil-board (tests/test_hil.py)."""
import contextlib
import io
import json
import re

import numpy as np
import pytest

from tinyattend.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """`tinyattend demo`, once for this file: (exit status, what it printed, its OUT folder)."""
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["demo", "-o", str(out)])
    return status, printed.getvalue(), out


def test_demo_runs_bit_exact_and_accurate(demo_run):
    status, text, _ = demo_run
    assert status == 0, text[-2000:]
    assert re.search(r"output = TFLM, bit for bit\s+yes", text), text[-2000:]
    assert "instructions (QEMU icount)" in text
    accuracy = float(re.search(r"top-1 of the int8 C model: ([\d.]+)%", text).group(1))
    assert accuracy >= 95.0, text[-1000:]
    agreement = re.search(r"top-1 agreement ([\d.]+)%", text)
    assert agreement and float(agreement.group(1)) >= 99.0, text[:3000]


@pytest.mark.hil
def test_demo_model_end_to_end_bit_exact_over_uart(demo_run, hil_board, tmp_path):
    """The demo's int8 model, generated for the hil board, on a held-out digit through the UART protocol."""
    from test_hil import end_to_end
    from tinyattend.demo import DEMO_TEST
    from tinyattend.pipeline import write_project
    board, port = hil_board
    tflite = demo_run[2] / "model.tflite"
    report = write_project(tmp_path, tflite.read_bytes(), board, kernels="auto", optimize="balanced",
                           model_name="attendnext_digits", measure_tflm_arena=False)
    (tmp_path / "model.tflite").write_bytes(tflite.read_bytes())
    io_ = json.loads((demo_run[2] / "report.json").read_text())["input"]
    digit = np.transpose(np.load(DEMO_TEST)["x"][:1].astype(np.float32), (0, 2, 3, 1))   # NCHW -> NHWC
    x = np.clip(np.round(digit / io_["scale"]) + io_["zero_point"], -128, 127).astype(np.int8)
    end_to_end(tmp_path, board, port, tflite, x.reshape(report["input"]["shape"]))
