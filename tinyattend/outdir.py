"""Output directories are written whole or not at all.

Every verb that writes OUT builds it in a temporary sibling directory and
renames it into place at the end, so a failure never leaves half a project.
An existing OUT is replaced only if tinyattend wrote it (it holds MARKER).

Temporary work of a verb (onnx2tf's files, compiler and TFLM folders, anything a library puts in
TMPDIR) goes into WORK_DIR inside the staging directory (`temporary_work_in`), so it sits next to OUT
and goes with the staging directory. A process killed outright (SIGKILL, power loss) can leave only a
staging directory behind, and the next run for the same OUT removes it once its owner is gone.
"""
from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

from .errors import OutputDirError

MARKER = ".tinyattend-output"
OWNER = ".tinyattend-owner"      # in a staging directory only: the pid that builds it
WORK_DIR = ".work"               # in a staging directory only: temporary work


def check_replaceable(out: Path) -> None:
    out = Path(out)
    if not out.resolve().name or Path.cwd().resolve().is_relative_to(out.resolve()):
        raise OutputDirError(f"output directory {out} is the current directory or one above it",
                             "give -o a new directory, e.g. -o out (tinyattend replaces OUT as a whole)")
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"output path {out} exists and is a file", "choose another -o directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OutputDirError(f"output directory {out} exists, is not empty, and was not written by tinyattend",
                             "choose a new or empty -o directory; tinyattend only replaces its own output")


@contextlib.contextmanager
def staged_output(out: Path):
    """Yield a temporary directory; on success it replaces `out` atomically."""
    out = Path(out)
    check_replaceable(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as err:
        raise OutputDirError(f"cannot create output directory {out}: {err.strerror or err}",
                             "give -o a directory in a place you can write to") from None
    try:
        (staging / MARKER).write_text("written by tinyattend; safe to delete\n")
        (staging / OWNER).write_text(f"{os.getpid()}\n")
        yield staging
        for scratch in (staging / OWNER, staging / WORK_DIR):
            if scratch.is_dir():
                shutil.rmtree(scratch, ignore_errors=True)
            elif scratch.exists():
                scratch.unlink()
        if out.exists():
            old = out.with_name(f".{out.name}.old-{staging.name[-8:]}")
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _owner_alive(staging: Path) -> bool:
    try:
        pid = int((staging / OWNER).read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned_staging(out: Path) -> list[Path]:
    """Remove staging directories of `out` left by tinyattend processes that no longer run (killed
    outright). Only directories that hold both MARKER and OWNER are touched."""
    removed = []
    for candidate in Path(out).parent.glob(f".{glob.escape(Path(out).name)}.tmp-*"):
        if candidate.is_dir() and (candidate / MARKER).is_file() and (candidate / OWNER).is_file() \
                and not _owner_alive(candidate):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def temporary_work_in(staging: Path):
    """Send temporary files, ours, the libraries' and child processes', into staging/WORK_DIR."""
    work = Path(staging) / WORK_DIR
    work.mkdir(exist_ok=True)
    old_tempdir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(work)
    try:
        yield work
    finally:
        tempfile.tempdir = old_tempdir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
        shutil.rmtree(work, ignore_errors=True)


def _check_io_entry(path: Path, report: dict, key: str) -> None:
    entry = report.get(key)
    shape = entry.get("shape") if isinstance(entry, dict) else None
    problem = None
    if not isinstance(entry, dict):
        problem = f"no '{key}' object"
    elif not isinstance(shape, list) or not shape or not all(type(d) is int and d > 0 for d in shape) \
            or math.prod(shape) > (1 << 30):
        problem = f"'{key}.shape' is not a list of positive dimensions: {str(shape)[:80]}"
    elif entry.get("dtype", "int8") not in ("int8", "float32"):
        problem = f"'{key}.dtype' is {str(entry.get('dtype'))[:40]!r}, not int8 or float32"
    elif entry.get("scale") is not None and not (isinstance(entry["scale"], (int, float))
                                                 and math.isfinite(entry["scale"]) and entry["scale"] > 0):
        problem = f"'{key}.scale' is not a positive number"
    elif entry.get("zero_point") is not None and not (type(entry["zero_point"]) is int
                                                      and -128 <= entry["zero_point"] <= 127):
        problem = f"'{key}.zero_point' is not an int8 value"
    if problem:
        raise OutputDirError(f"{path} is malformed: {problem}",
                             "re-run `tinyattend convert` to write OUT again; do not edit report.json")


def read_report(out_dir: Path, required: bool = True) -> dict:
    """OUT/report.json, checked where the verbs rely on it (input and output: shape, dtype, quantization).
    A missing file is an OutputDirError when `required`, else {}."""
    path = Path(out_dir) / "report.json"
    if not path.is_file():
        if not required:
            return {}
        raise OutputDirError(f"{out_dir} has no report.json",
                             f"run `tinyattend convert MODEL --board host -o {out_dir}` first")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise OutputDirError(f"{path} is unreadable ({str(err)[:200]})",
                             "re-run `tinyattend convert` to write OUT again") from None
    if not isinstance(report, dict):
        raise OutputDirError(f"{path} is malformed: not a JSON object", "re-run `tinyattend convert`")
    for key in ("input", "output"):
        _check_io_entry(path, report, key)
    return report
