"""Shared pytest fixtures."""
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"
MLPERF_MODELS = ("pretrainedResnet_quant", "vww_96_int8", "kws_ref_model", "ad01_int8")


def mlperf_model(name: str) -> Path:
    path = SHARED_MODELS / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"MLPerf Tiny model {path} is not present (it lives in ../shared/models beside the repo)")
    return path


def pytest_addoption(parser):
    parser.addoption("--hil-board", default="stm32f405-qemu",
                     help="board profile for `hil` tests (default: the STM32F405 on QEMU, its USART on a pty)")
    parser.addoption("--hil-port", default=None, help="serial port of a real board for `hil` tests")


@pytest.fixture
def hil_board(request, monkeypatch):
    """(board, serial port or None) for `hil` tests: --hil-board, --hil-port."""
    from tinyattend.boards import load_board
    board = load_board(request.config.getoption("--hil-board"))
    if board.is_host:
        pytest.skip("--hil-board host has no UART")
    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("make")):
        pytest.skip("arm-none-eabi-gcc and make are needed (make setup installs them)")
    if board.run.get("kind") == "qemu" and not shutil.which("qemu-system-arm"):
        pytest.skip("qemu-system-arm is needed for the emulated board")
    port = request.config.getoption("--hil-port")
    if port:
        monkeypatch.setenv("TINYATTEND_SERIAL_PORT", port)   # for `tinyattend run`, which takes no port
    return board, port
