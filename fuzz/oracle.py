"""Run one fuzz case through the real CLI in a forked child and classify what happened.

The child gets a sandbox: the model file, its own TMPDIR and HOME (so temporary folders and caches
it leaves behind are seen), and OUT inside the sandbox. The parent watches the child's memory (and
its children's) and its time, and kills it past the limits.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import psutil

# Worst first: a case's outcome is the first of these that applies. "bad C" and "wrong output" are for
# accepted models, whose generated C is built with AddressSanitizer and UBSan and compared with TFLM
# (`tinyattend verify --sanitize`): a failed build or a sanitizer report is "bad C"; "TFLM refuses"
# is an accepted model TFLM itself cannot prepare. "cache write": a library kept a cache file in HOME
# (ONNX Runtime's telemetry device id, matplotlib's font list) or ONNX Runtime's $TMPDIR/.ses: reported,
# not counted as bad.
OUTCOMES = ("crash", "hang", "blow-up", "escape", "half-written", "leftover", "traceback", "bad C",
            "wrong output", "library error", "clear error", "TFLM refuses", "cache write", "ok")
LIBRARY_NAMES = ("TensorFlow", "Keras", "ONNX", "ONNX Runtime", "onnx2tf", "LiteRT", "TFLite Micro", "protobuf",
                 "h5py", "Pillow", "Jinja2")     # as tinyattend/guard.py names them in a StageError
BAD = {"crash", "hang", "blow-up", "escape", "half-written", "leftover", "traceback", "bad C", "wrong output"}


@dataclass(frozen=True)
class Case:
    """One input: `files` are written into the sandbox; `argv` may use {SANDBOX} (the sandbox path)."""
    name: str
    family: str                           # "tflite", "onnx" or "hostile": the table's row groups
    argv: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...] = ()
    setup: tuple[tuple[str, str], ...] = ()   # (relative path, "dir" | "symlink:TARGET"): made before the run


@dataclass(frozen=True)
class Outcome:
    case: str
    family: str
    outcome: str
    seconds: float
    peak_mib: float
    rc: int | None
    detail: str                           # the error's first lines, or what went wrong


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _child(sandbox: Path, argv: list[str], entry) -> None:
    """In the forked child: never returns."""
    rc = 98
    try:
        os.chdir(sandbox)
        os.environ.update(TMPDIR=str(sandbox / "tmp"), HOME=str(sandbox / "home"),
                          XDG_CACHE_HOME=str(sandbox / "home" / ".cache"))
        tempfile.tempdir = None
        os.setsid()                              # its own process group: a hang is killed whole
        log = os.open(sandbox / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        if entry is None:
            from tinyattend.cli import main as entry
        rc = entry(argv)
    except SystemExit as done:
        rc = done.code if isinstance(done.code, int) else 2
    except BaseException:  # noqa: BLE001 - what escapes the CLI is what we are looking for
        traceback.print_exc()
        rc = 97
    finally:
        try:
            # What a normal exit runs (TensorFlow removes its autograph temporary files at exit), then out
            # without the parent's other exit work (the fork shares its state).
            import atexit
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc if isinstance(rc, int) else 1)


def run_case(case: Case, workdir: Path, *, timeout: float, memory_mib: float, keep: bool = False,
             verify: bool = False, entry=None) -> Outcome:
    """Run `case`; with `verify`, an accepted convert is also built and compared with TFLM.
    `entry(argv) -> exit code` runs in the child (default: tinyattend's CLI; tests give their own)."""
    sandbox = Path(tempfile.mkdtemp(prefix="case-", dir=workdir))
    for sub in ("tmp", "home"):
        (sandbox / sub).mkdir()
    for name, data in case.files:
        (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
        (sandbox / name).write_bytes(data)
    for name, how in case.setup:
        path = sandbox / name
        if how == "dir":
            path.mkdir(parents=True, exist_ok=True)
        elif how == "fifo":
            os.mkfifo(path)
        elif how.startswith("symlink:"):
            path.symlink_to(how.split(":", 1)[1])
    argv = [a.replace("{SANDBOX}", str(sandbox)) for a in case.argv]
    before = _listing(sandbox)
    outcome = _run(case, sandbox, before, argv, timeout, memory_mib, entry)
    if verify and outcome.outcome in ("ok", "cache write") and argv[0] == "convert":
        checked = _run(case, sandbox, _listing(sandbox), ["verify", "OUT", "--samples", "3", "--sanitize"], timeout, memory_mib,
                       entry)
        outcome = _verified(outcome, checked)
    if not keep:
        shutil.rmtree(sandbox, ignore_errors=True)
    return outcome


def _verified(converted: Outcome, checked: Outcome) -> Outcome:
    """The outcome of an accepted convert, from its `tinyattend verify`."""
    result, detail = checked.outcome, checked.detail
    if result == "clear error":
        if "host build of" in detail or "failed a sanitizer check" in detail:
            result = "bad C"
        elif "TFLM could not prepare" in detail or "TFLM crashed" in detail:
            result = "TFLM refuses"
    elif result == "ok" or checked.rc == 1:
        result = "ok" if checked.rc == 0 else "wrong output"
    if result == "ok" and converted.outcome == "cache write":
        result, detail = converted.outcome, converted.detail
    return Outcome(converted.case, converted.family, result, round(converted.seconds + checked.seconds, 2),
                   max(converted.peak_mib, checked.peak_mib), checked.rc, detail)


def _run(case: Case, sandbox: Path, before: set[str], argv: list[str], timeout: float, memory_mib: float,
         entry) -> Outcome:
    start = time.monotonic()
    sys.stdout.flush()
    sys.stderr.flush()
    # The forked child starts with the parent's pages (TensorFlow, torch, ... when a test session has imported
    # them): the limit is on what the case adds to that.
    inherited = psutil.Process().memory_info().rss
    pid = os.fork()
    if pid == 0:
        _child(sandbox, argv, entry)
    process = psutil.Process(pid)
    peak, killed, status = 0, None, None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        peak = max(peak, _tree_rss(process) - inherited)
        elapsed = time.monotonic() - start
        if killed is None and (elapsed > timeout or peak > memory_mib * 2**20):
            killed = "hang" if elapsed > timeout else "blow-up"
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02 if elapsed < 2 else 0.1)
    seconds = time.monotonic() - start
    log = (sandbox / "log.txt").read_text(errors="replace") if (sandbox / "log.txt").exists() else ""
    rc = os.waitstatus_to_exitcode(status)
    outcome, detail = classify(case, sandbox, before, log, rc, killed)
    return Outcome(case.name, case.family, outcome, round(seconds, 2), round(peak / 2**20, 1), rc, detail)


def _error_lines(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith(("error:", "Traceback", "usage:")) or ": error: " in line:
            return " | ".join(lines[i:i + 2])[:300]
    return " | ".join(lines[-2:])[:300]


def classify(case: Case, sandbox: Path, before: set[str], log: str, rc: int, killed: str | None) -> tuple[str, str]:
    after = _listing(sandbox)
    new = sorted(after - before - {"log.txt"})
    outside = [p for p in new if not (p == "OUT" or p.startswith(("OUT/", "tmp/", "home/")))]
    # ONNX Runtime keeps a session-id file, $TMPDIR/.ses, on purpose: a library's file, like HOME's caches.
    leftovers = [p for p in new if p.startswith("tmp/") and p != "tmp/.ses"]
    caches = [p for p in new if p.startswith("home/") or p == "tmp/.ses"]
    if killed:
        return killed, f"killed after the {killed} limit; last output: {_error_lines(log)}"
    if rc < 0:
        return "crash", f"signal {-rc}; last output: {_error_lines(log)}"
    if outside:
        return "escape", f"wrote outside OUT: {outside[:5]}"
    out_new = "OUT" in new
    if rc != 0 and out_new:
        return "half-written", f"exit {rc} but OUT was created: {_error_lines(log)}"
    if leftovers:
        return "leftover", f"left behind: {leftovers[:5]}"
    if "Traceback (most recent call last)" in log or "internal error in tinyattend" in log:
        return "traceback", _error_lines(log)
    if "ran out of memory" in log:
        return "blow-up", _error_lines(log)
    if rc == 0:
        return ("cache write", f"in HOME: {caches[-1]}") if caches else ("ok", "")
    if "verify: FAIL" in log:
        return "wrong output", " | ".join(log.strip().splitlines()[-3:])[:300]
    error_lines = [line for line in log.splitlines() if line.startswith("error: ") or ": error: argument" in line]
    if error_lines and " failed: " in error_lines[0] and any(
            f"{lib} failed:" in error_lines[0] for lib in LIBRARY_NAMES):
        return "library error", _error_lines(log)
    if error_lines:
        return "clear error", _error_lines(log)
    if rc == 1 and case.argv[0] == "inspect" and "problem(s)" in log:
        return "clear error", "inspect lists the problems: " + " | ".join(log.strip().splitlines()[-2:])[:250]
    return "traceback", f"exit {rc} without an error line: {_error_lines(log)}"
