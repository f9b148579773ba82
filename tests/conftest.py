"""Shared pytest fixtures."""
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
