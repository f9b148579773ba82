"""Hardware in the loop: the TA: protocol over a UART, against the board named by
--hil-board (default cortex-m7, on QEMU: UART0 is a socket) and --hil-port (a real board's
serial port; it is flashed with pyOCD).

On an emulated board, the UART run must give the same output and the same instruction
count as the semihosting run. On a real board, the output must match the reference.

    pytest -m hil                                                   # QEMU, cortex-m7
    pytest -m hil --hil-board nucleo-h743zi --hil-port /dev/ttyACM0 # a real board
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyattend.boards import load_board
from tinyattend.build.firmware import build_firmware, write_firmware_project

FIXTURE = Path(__file__).parent / "firmware_fixture"
sys.path.insert(0, str(FIXTURE))
from reference import fixture_reference  # noqa: E402

pytestmark = [
    pytest.mark.hil,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("make")),
                       reason="arm-none-eabi-gcc and make are needed (make setup installs them)"),
]
FIXTURE_INPUT = np.arange(-32, 32, dtype=np.int8)


@pytest.fixture
def hil_board(request):
    board = load_board(request.config.getoption("--hil-board"))
    if board.is_host:
        pytest.skip("--hil-board host has no UART")
    if board.run.get("kind") == "qemu" and not shutil.which("qemu-system-arm"):
        pytest.skip("qemu-system-arm is needed for the emulated board")
    return board, request.config.getoption("--hil-port")


def _run(board, elf, data, transport, port):
    if board.run.get("kind") == "qemu":
        from tinyattend.run.qemu import run_qemu
        return run_qemu(board, elf, data, transport=transport, timeout=60)
    from tinyattend.run.serial_link import run_serial
    return run_serial(board, elf, data, port=port, timeout=120)


def _build(tmp_path, board, model_dir, transport):
    project = tmp_path / f"fw-{transport}"
    write_firmware_project(project, board, model_dir, transport=transport)
    return build_firmware(project, board)


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


@pytest.mark.slow
def test_generated_model_over_uart_matches_semihosting_and_tflm(tmp_path, hil_board):
    from conftest import mlperf_model
    from tinyattend.pipeline import write_project
    from tinyattend.verify import tflm_reference
    board, port = hil_board
    tflite = mlperf_model("ad01_int8")
    write_project(tmp_path, tflite.read_bytes(), board, kernels="portable", optimize="balanced",
                  model_name=tflite.name)
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 640)).astype(np.int8)
    reference = tflm_reference(tflite, x[None])[0].reshape(-1)
    uart = _run(board, _build(tmp_path, board, tmp_path / "model", "uart").elf, x.tobytes(), "uart", port)
    assert np.array_equal(np.frombuffer(uart.output, dtype=np.int8), reference)
    if board.run.get("kind") == "qemu":
        semi = _run(board, _build(tmp_path, board, tmp_path / "model", "semihosting").elf, x.tobytes(),
                    "semihosting", None)
        assert uart.output == semi.output and uart.total == semi.total
