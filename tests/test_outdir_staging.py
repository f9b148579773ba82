"""Temporary work lives in the staging folder next to OUT (issue 19): a killed convert leaves at most that
folder, and the next run for the same OUT removes it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tinyattend.outdir import (MARKER, OWNER, WORK_DIR, remove_abandoned_staging, staged_output,
                               temporary_work_in)

REPO = Path(__file__).resolve().parent.parent


def test_temporary_work_goes_inside_staging_and_not_into_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "system-tmp"))
    out = tmp_path / "OUT"
    with staged_output(out) as stage, temporary_work_in(stage) as work:
        assert work.parent == stage and work.name == WORK_DIR
        assert tempfile.gettempdir() == str(work) and os.environ["TMPDIR"] == str(work)
        with tempfile.NamedTemporaryFile(delete=False) as handle:          # a library's stray temp file
            handle.write(b"x")
        child = subprocess.run([sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"],
                               capture_output=True, text=True, check=True)
        assert child.stdout.strip() == str(work)                           # child processes too
        (stage / "model.c").write_text("/* the project */\n")
    assert os.environ["TMPDIR"] == str(tmp_path / "system-tmp")            # restored
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "model.c"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OUT"]


def test_a_failed_stage_takes_its_temporary_work_with_it(tmp_path):
    out = tmp_path / "OUT"
    with pytest.raises(RuntimeError):
        with staged_output(out) as stage, temporary_work_in(stage):
            Path(tempfile.mkdtemp(prefix="tinyattend-onnx2tf-")).joinpath("f").write_text("x")
            raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []


_KILLED_CHILD = textwrap.dedent("""
    import sys, tempfile, time
    from pathlib import Path
    from tinyattend.outdir import staged_output, temporary_work_in
    with staged_output(Path(sys.argv[1])) as stage, temporary_work_in(stage):
        Path(tempfile.mkdtemp(prefix="tinyattend-onnx2tf-")).joinpath("weights").write_bytes(b"w" * 1000)
        print("working", flush=True)
        time.sleep(600)
""")


def test_sigkill_leaves_only_the_staging_folder_and_the_next_run_removes_it(tmp_path):
    out, system_tmp = tmp_path / "OUT", tmp_path / "system-tmp"
    system_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(system_tmp), PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(out)], env=env, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "working"
    child.send_signal(signal.SIGKILL)                    # no handler can run: nothing is cleaned up
    child.wait(timeout=30)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0].startswith(".OUT.tmp-") and left[1] == "system-tmp", left
    assert list(system_tmp.iterdir()) == []             # nothing in TMPDIR: the work was inside staging
    stale = tmp_path / left[0]
    assert any(stale.glob(f"{WORK_DIR}/tinyattend-onnx2tf-*/weights"))

    alive = tmp_path / ".OUT.tmp-alive"                 # a staging folder whose owner still runs is kept
    alive.mkdir()
    (alive / MARKER).write_text("")
    (alive / OWNER).write_text(f"{os.getpid()}\n")
    foreign = tmp_path / ".OUT.tmp-foreign"             # and one tinyattend did not write
    foreign.mkdir()

    with staged_output(out) as stage:
        (stage / "model.c").write_text("")
    assert not stale.exists()
    assert alive.is_dir() and foreign.is_dir()
    assert remove_abandoned_staging(out) == []
