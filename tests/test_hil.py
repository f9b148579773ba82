"""Hardware in the loop: the TA: protocol over a UART, against the board named by --hil-board
and --hil-port. The default is stm32f405-qemu: an STM32F405 on QEMU's netduinoplus2, with ST's
USART on a pseudo-terminal driven by the serial code a real board's USB serial port gets
(tinyattend/run/qemu_serial.py); tests/test_demo.py runs the demo model the same way. The same tests
run unchanged against a real board:

    pytest -m hil                                                    # QEMU, stm32f405-qemu
    pytest -m hil --hil-board cortex-m7                              # QEMU, CMSDK UART on a socket
    pytest -m hil --hil-board nucleo-h743zi --hil-port /dev/ttyACM0  # a real board, flashed with pyOCD

On an emulated board the UART run must give the same output and instruction count as the
semihosting run; everywhere, a generated model's output must equal TFLM's bit for bit, and a cut
link or a faulting model must end in a clear error within a bounded time, with no output written.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinyattend.build.firmware import build_firmware, write_firmware_project
from tinyattend.errors import RunError
from tinyattend.run.runner import model_info, run_on_board

FIXTURE = Path(__file__).parent / "firmware_fixture"
sys.path.insert(0, str(FIXTURE))
from reference import fixture_reference  # noqa: E402

pytestmark = [
    pytest.mark.hil,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("make")),
                       reason="arm-none-eabi-gcc and make are needed (make setup installs them)"),
]
FIXTURE_INPUT = np.arange(-32, 32, dtype=np.int8)


def _run(board, elf, data, transport, port, **kwargs):
    if board.run.get("kind") == "qemu":
        if transport == "uart" and board.run.get("serial_link") == "pty":
            from tinyattend.run.qemu_serial import run_qemu_serial
            return run_qemu_serial(board, elf, data, timeout=60, **kwargs)
        from tinyattend.run.qemu import run_qemu
        return run_qemu(board, elf, data, transport=transport, timeout=60)
    from tinyattend.run.serial_link import run_serial
    return run_serial(board, elf, data, port=port, timeout=120, **kwargs)


def _build(tmp_path, board, model_dir, transport):
    project = tmp_path / f"fw-{transport}"
    write_firmware_project(project, board, model_dir, transport=transport)
    return build_firmware(project, board)


def _fixture_out(tmp_path: Path, mode: int = 0) -> Path:
    """An OUT folder holding the fixture model; mode 2 hard-faults in layer 1 (model.c's FIXTURE_MODE)."""
    out = tmp_path / f"out-{mode}"
    shutil.copytree(FIXTURE, out / "model", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    model_c = out / "model" / "model.c"
    model_c.write_text(model_c.read_text().replace("#define FIXTURE_MODE 0", f"#define FIXTURE_MODE {mode}"))
    return out


def test_fixture_over_uart(tmp_path, hil_board):
    board, port = hil_board
    uart = _run(board, _build(tmp_path, board, FIXTURE, "uart").elf, FIXTURE_INPUT.tobytes(), "uart", port)
    assert uart.output == fixture_reference(FIXTURE_INPUT).tobytes()
    assert uart.status == 0 and [l.op for l in uart.layers] == ["ADD", "LOOP", "MUL"]
    if board.run.get("kind") == "qemu":
        semi = _run(board, _build(tmp_path, board, FIXTURE, "semihosting").elf, FIXTURE_INPUT.tobytes(),
                    "semihosting", None)
        assert uart.output == semi.output
        assert uart.total == semi.total and [l.ticks for l in uart.layers] == [l.ticks for l in semi.layers]


def end_to_end(out: Path, board, port, tflite: Path, x: np.ndarray) -> None:
    """The generated model through the board's own run path (tinyattend run's), equal to TFLM bit for bit."""
    from tinyattend.verify import tflm_reference
    info = model_info(out)
    result, _ = run_on_board(info, board, x.tobytes(), port=port, timeout=120)
    reference = np.ascontiguousarray(tflm_reference(tflite, x[None])[0]).reshape(-1)
    assert result.status == 0 and len(result.layers) == result.num_layers > 5
    assert np.array_equal(np.frombuffer(result.output, dtype=reference.dtype), reference)


def test_kws_end_to_end_bit_exact(tmp_path, hil_board):
    from conftest import mlperf_model
    from tinyattend.pipeline import write_project
    board, port = hil_board
    tflite = mlperf_model("kws_ref_model")
    write_project(tmp_path, tflite.read_bytes(), board, kernels="auto", optimize="balanced",
                  model_name=tflite.name, measure_tflm_arena=False)
    (tmp_path / "model.tflite").write_bytes(tflite.read_bytes())
    x = np.random.default_rng(1).integers(-128, 128, size=model_info(tmp_path).input_shape).astype(np.int8)
    end_to_end(tmp_path, board, port, tflite, x)


def test_serial_link_cut_mid_inference_ends_clearly(tmp_path, hil_board):
    board, port = hil_board
    info = model_info(_fixture_out(tmp_path))

    def cut_in_layer_1(line, link):
        if line.startswith("TA:ENTER 1 "):
            link.cut()

    started = time.monotonic()
    with pytest.raises(RunError, match=r"serial link .* was lost in layer 1 \(LOOP\) .*no result was kept"):
        run_on_board(info, board, FIXTURE_INPUT.tobytes(), port=port, timeout=30, on_line=cut_in_layer_1)
    assert time.monotonic() - started < 20


def test_hard_faulting_model_ends_clearly_and_writes_nothing(tmp_path, hil_board, capsys):
    from tinyattend.cli import main
    board, _ = hil_board
    out = _fixture_out(tmp_path, mode=2)
    np.save(tmp_path / "x.npy", FIXTURE_INPUT.reshape(1, 64))
    y = tmp_path / "y.npy"
    started = time.monotonic()
    status = main(["run", str(out), "--board", board.name, "--input", str(tmp_path / "x.npy"), "--output", str(y)])
    assert status != 0 and time.monotonic() - started < 30
    assert "faulted in layer 1 (LOOP)" in capsys.readouterr().err
    assert not y.exists() and not list(tmp_path.glob(".y.npy*"))
