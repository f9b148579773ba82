"""Firmware projects and QEMU runs, on the hand-written fixture model library in
tests/firmware_fixture/ (3 layers: ADD, LOOP, MUL) and, where ../shared/models is present,
on a real generated model."""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinyattend.boards import load_board
from tinyattend.build.firmware import build_firmware, write_firmware_project
from tinyattend.errors import DoesNotFitError, RunError
from tinyattend.run.protocol import Transcript, format_input
from tinyattend.run.qemu import run_qemu

FIXTURE = Path(__file__).parent / "firmware_fixture"
sys.path.insert(0, str(FIXTURE))
from reference import fixture_reference  # noqa: E402

EMULATED = ("cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
needs_toolchain = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm") and shutil.which("make")),
    reason="arm-none-eabi-gcc, make and qemu-system-arm are needed (make setup installs them)")
FIXTURE_INPUT = np.arange(-32, 32, dtype=np.int8)


def fixture_variant(tmp_path: Path, mode: int = 0, **replace: str) -> Path:
    """A copy of the fixture with FIXTURE_MODE set and text replaced in its files."""
    model = tmp_path / f"model-{mode}"
    shutil.copytree(FIXTURE, model, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (model / "model.c").write_text((model / "model.c").read_text().replace(
        "#define FIXTURE_MODE 0", f"#define FIXTURE_MODE {mode}"))
    for name, (old, new) in replace.items():
        path = model / name.replace("_", ".", 1) if "." not in name else model / name
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
    return model


def build_fixture(tmp_path: Path, board_name: str, model: Path = FIXTURE, transport: str = "semihosting"):
    board = load_board(board_name)
    project = tmp_path / f"fw-{board_name}-{transport}"
    write_firmware_project(project, board, model, transport=transport)
    return board, build_firmware(project, board)


def test_protocol_round_trip():
    transcript = Transcript()
    for line in ["boot noise", "TA:BEGIN b timer=systick hz=25000000 input=3 output=2 arena=16 layers=1",
                 "TA:ENTER 0 CONV_2D", "TA:LAYER 0 10 CONV_2D", "TA:TOTAL 11", "TA:STACK 96",
                 "TA:OUTPUT 7f80", "TA:END 0"]:
        transcript.feed(line)
    r = transcript.result
    assert transcript.done and r.status == 0 and r.output == bytes([0x7F, 0x80])
    assert r.count(r.layers[0].ticks) == 400 and r.total == 440 and r.count_unit == "instructions (QEMU icount)"
    assert format_input(bytes(range(70))) == ["TA:INPUT " + bytes(range(64)).hex(), "TA:INPUT " + bytes(range(64, 70)).hex()]


def test_project_is_deterministic(tmp_path):
    board = load_board("cortex-m55")
    a, b = tmp_path / "a", tmp_path / "b"
    write_firmware_project(a, board, FIXTURE)
    write_firmware_project(b, board, FIXTURE)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert {str(f) for f in files} >= {"Makefile", "CMakeLists.txt", "arm-none-eabi.cmake", "linker.ld",
                                       "startup.c", "main.c", "ta_board.h", "model/model.c"}
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    linker = (a / "linker.ld").read_text()
    assert "ORIGIN = 0x01000000, LENGTH = 2097152" in linker and "} > ITCM" in linker


@needs_toolchain
@pytest.mark.parametrize("board_name", EMULATED)
def test_fixture_builds_and_runs_on_qemu(tmp_path, board_name):
    board, build = build_fixture(tmp_path, board_name)   # -Wall -Wextra -Werror: warning-free or it fails
    assert build.text > 0 and build.bss >= 512 + 16 * 1024 and build.flash_bytes == build.text + build.data
    first = run_qemu(board, build.elf, FIXTURE_INPUT.tobytes(), timeout=30)
    second = run_qemu(board, build.elf, FIXTURE_INPUT.tobytes(), timeout=30)
    assert first.output == fixture_reference(FIXTURE_INPUT).tobytes()
    assert [l.op for l in first.layers] == ["ADD", "LOOP", "MUL"]
    assert first.total > 300_000 and first.emulated
    # icount makes the count deterministic: the same on every run, per layer too
    assert (first.total_ticks, [l.ticks for l in first.layers]) == (second.total_ticks, [l.ticks for l in second.layers])
    assert sum(l.ticks for l in first.layers) <= first.total_ticks
    assert 0 < first.stack_bytes < 4096


@needs_toolchain
def test_hang_ends_within_timeout_naming_the_layer(tmp_path):
    board, build = build_fixture(tmp_path, "cortex-m4", fixture_variant(tmp_path, mode=1))
    started = time.monotonic()
    with pytest.raises(RunError, match=r"hung in layer 1 \(LOOP\)"):
        run_qemu(board, build.elf, FIXTURE_INPUT.tobytes(), timeout=3)
    assert time.monotonic() - started < 10


@needs_toolchain
def test_hard_fault_names_the_layer(tmp_path):
    board, build = build_fixture(tmp_path, "cortex-m7", fixture_variant(tmp_path, mode=2))
    with pytest.raises(RunError, match=r"faulted in layer 1 \(LOOP\).*pc=0x"):
        run_qemu(board, build.elf, FIXTURE_INPUT.tobytes(), timeout=10)


def test_arena_too_big_is_refused_with_numbers(tmp_path):
    model = fixture_variant(tmp_path, **{"model.h": ("TA_ARENA_SIZE   512", "TA_ARENA_SIZE   5000000")})
    with pytest.raises(DoesNotFitError, match=r"arena \(5000000 B\).*4194304 B at 0x20000000"):
        write_firmware_project(tmp_path / "fw", load_board("cortex-m7"), model)


@needs_toolchain
def test_weights_too_big_for_flash_are_refused_with_numbers(tmp_path):
    model = fixture_variant(tmp_path, **{"model_data.c": ("ta_fixture_constant[64]", "ta_fixture_constant[3 << 20]")})
    with pytest.raises(DoesNotFitError, match=r"flash region \(2097152 B at 0x01000000\) by \d+ B"):
        build_fixture(tmp_path, "cortex-m55", model)


@needs_toolchain
def test_run_command_on_emulated_board(tmp_path):
    from tinyattend.cli import main
    out = tmp_path / "out"
    shutil.copytree(FIXTURE, out / "model", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    np.save(tmp_path / "x.npy", FIXTURE_INPUT.reshape(1, 64))
    assert main(["run", str(out), "--board", "cortex-m4", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")]) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.int8 and y.shape == (1, 64)
    assert np.array_equal(y.reshape(-1), fixture_reference(FIXTURE_INPUT))


@needs_toolchain
@pytest.mark.slow
def test_bench_generated_model_is_bit_exact_on_m4_m7_m55(tmp_path, capsys):
    from conftest import mlperf_model
    from tinyattend.cli import main
    model = mlperf_model("ad01_int8")
    out = tmp_path / "ad01"
    assert main(["convert", str(model), "--board", "cortex-m7", "-o", str(out)]) == 0
    capsys.readouterr()
    for board in EMULATED:
        main(["bench", str(out), "--board", board, "--json"])
        result = json.loads(capsys.readouterr().out)
        assert result["board"] == board and result["bit_exact"] is True, result.get("bit_exact_error")
        assert result["instructions"] > 0 and result["count_unit"] == "instructions (QEMU icount)"
        assert len(result["layers"]) == 10 and {l["op"] for l in result["layers"]} == {"FULLY_CONNECTED"}
        assert result["arena_bytes"] > 0 and result["stack_bytes"] > 0
        assert result["flash_bytes"] > result["weights_bytes"] > 0 and result["macs_per_instruction"] > 0
