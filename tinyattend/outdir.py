"""Output directories are written whole or not at all.

Every verb that writes OUT builds it in a temporary sibling directory and
renames it into place at the end, so a failure never leaves half a project.
An existing OUT is replaced only if tinyattend wrote it (it holds MARKER).
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from .errors import OutputDirError

MARKER = ".tinyattend-output"


def check_replaceable(out: Path) -> None:
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
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (staging / MARKER).write_text("written by tinyattend; safe to delete\n")
        yield staging
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
