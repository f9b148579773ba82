"""The stage boundary (tinyattend/guard.py), --debug, and cleanup on SIGTERM and the time limit (issue 19)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyattend.cli import main
from tinyattend.errors import InternalError, ResourceLimitError, StageError
from tinyattend.guard import stage, time_limit

REPO = Path(__file__).resolve().parent.parent


def test_library_error_names_the_stage_and_library():
    onnx = pytest.importorskip("onnx")
    with pytest.raises(StageError) as info:
        with stage("convert"):
            onnx.load_from_string(b"\xff\xff\xff garbage")
    assert str(info.value).startswith(("convert: protobuf failed: ", "convert: ONNX failed: ")), str(info.value)
    assert info.value.__cause__ is not None          # the original stays reachable for --debug


def test_own_bug_is_an_internal_error():
    with pytest.raises(InternalError) as info:
        with stage("code generation"):
            {}["missing"]
    assert "internal error in tinyattend (code generation): KeyError" in str(info.value)


def test_time_limit_raises_a_resource_limit_error():
    started = time.monotonic()
    with pytest.raises(ResourceLimitError) as info:
        with time_limit(0.3, "converting x"):
            while True:
                pass
    assert time.monotonic() - started < 5
    assert "converting x ran over tinyattend's time limit of 0.3 s" in str(info.value)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)      # the timer is off again


def test_debug_shows_the_traceback(tmp_path, capsys):
    model = tmp_path / "bad.tflite"
    model.write_bytes(b"\x00" * 4 + b"TFL3" + b"\x01" * 64)
    assert main(["convert", str(model), "--board", "host", "-o", str(tmp_path / "out")]) == 2
    plain = capsys.readouterr().err
    assert "error: " in plain and "Traceback" not in plain
    assert main(["convert", str(model), "--board", "host", "-o", str(tmp_path / "out"), "--debug"]) == 2
    debug = capsys.readouterr().err
    assert "Traceback (most recent call last)" in debug and "error: " in debug


def _left_in(tmp: Path) -> list[str]:
    """What is left in TMPDIR: a convert sends all temporary work (ONNX Runtime's .ses file included) into
    its staging folder, so nothing."""
    return sorted(p.name for p in tmp.iterdir())


def _onnx_model(tmp_path: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    import model_factory as mf
    path = tmp_path / "m.onnx"
    mf.save(mf.ops_model(size=32), path)
    return path


def _convert(tmp_path: Path, model: Path, **env) -> subprocess.Popen:
    (tmp_path / "tmp").mkdir()
    environment = dict(os.environ, TMPDIR=str(tmp_path / "tmp"), PYTHONPATH=str(REPO), **env)
    return subprocess.Popen([sys.executable, "-m", "tinyattend.cli", "convert", str(model), "--board", "host",
                             "-o", str(tmp_path / "OUT")], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigterm_during_onnx2tf_leaves_nothing(tmp_path):
    """`kill` (SIGTERM) while onnx2tf runs: exit 143, no temporary folder, no OUT, no staging folder."""
    process = _convert(tmp_path, _onnx_model(tmp_path))
    deadline = time.monotonic() + 300
    while not any(tmp_path.glob(".OUT.tmp-*/.work/tinyattend-onnx2tf-*")):    # temporary work: inside staging
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "onnx2tf never started"
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)          # at once: onnx2tf takes about a second on this model
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err[-2000:]
    assert "terminated" in err and "Traceback" not in err
    assert _left_in(tmp_path / "tmp") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "tmp"]


@pytest.mark.slow
def test_conversion_time_limit(tmp_path):
    """TINYATTEND_MAX_CONVERT_SECONDS stops a conversion with the numbers; nothing is left behind."""
    process = _convert(tmp_path, _onnx_model(tmp_path), TINYATTEND_MAX_CONVERT_SECONDS="1")
    _, err = process.communicate(timeout=600)
    assert process.returncode == 2, err[-2000:]
    assert "time limit of 1 s" in err and "TINYATTEND_MAX_CONVERT_SECONDS" in err and "Traceback" not in err
    assert _left_in(tmp_path / "tmp") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "tmp"]


@pytest.mark.slow
def test_conversion_memory_limit(tmp_path):
    """TINYATTEND_MAX_MEMORY_BYTES stops a conversion that grows past it, with the numbers, exit 2, nothing left:
    300 MB is less than TensorFlow and onnx2tf take for any model, so the watchdog must fire."""
    process = _convert(tmp_path, _onnx_model(tmp_path), TINYATTEND_MAX_MEMORY_BYTES=str(300 * 2**20))
    _, err = process.communicate(timeout=600)
    assert process.returncode == 2, err[-2000:]
    assert "over tinyattend's memory limit of 0.29 GiB" in err and "TINYATTEND_MAX_MEMORY_BYTES" in err
    assert "Traceback" not in err
    assert _left_in(tmp_path / "tmp") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "tmp"]
