"""A tiny progress reporter for slow steps (no dependencies).

Step lines go to stderr and read like

    [convert] importing TensorFlow... 4.1 s
    [convert] calibrating [##########----------] 100/200

`step()` writes the start of the line before the slow work and the elapsed
seconds after it, so a step that hangs shows which step it is. A step may run
with stderr silenced at the file-descriptor level (TensorFlow noise): the
start is flushed before, the end written after, so the line stays whole.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: on a shared machine a steadier measure of
    a step's cost than wall time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Progress:
    """Step lines `[stage] text... N.N s` and a text bar, on `stream` (stderr)."""

    def __init__(self, stage: str = "convert", stream=None, enabled: bool = True, bar_width: int = 20,
                 timed: bool = True):
        self.stage = stage
        self.timed = timed
        self._stream = stream
        self.enabled = enabled
        self.bar_width = bar_width
        self.timings: list[dict] = []     # {"step", "seconds", "cpu_seconds"} of every step, bar and done()

    def record(self, text: str, seconds: float, cpu: float | None = None) -> None:
        if self.timed:
                self.timings.append({"step": text, "seconds": round(seconds, 3),
                                 "cpu_seconds": None if cpu is None else round(cpu, 3)})

    @property
    def stream(self):
        # Looked up late so pytest's capsys (which swaps sys.stderr) sees the lines.
        return self._stream if self._stream is not None else sys.stderr

    def _isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def note(self, text: str) -> None:
        """A one-off line: `[stage] text`."""
        if self.enabled:
            print(f"[{self.stage}] {text}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def step(self, text: str):
        """Report a slow step: the line starts now and ends with the elapsed seconds."""
        start, cpu = time.monotonic(), cpu_seconds()
        if not self.enabled:
            try:
                yield
            finally:
                self.record(text, time.monotonic() - start, cpu_seconds() - cpu)
            return
        self.stream.write(f"[{self.stage}] {text}... ")
        self.stream.flush()
        failed = True
        try:
            yield
            failed = False
        finally:
            elapsed = time.monotonic() - start
            self.record(text, elapsed, cpu_seconds() - cpu)
            self.stream.write(f"{elapsed:.1f} s{' (failed)' if failed else ''}\n")
            self.stream.flush()

    def done(self, text: str, seconds: float, cpu: float | None = None) -> None:
        """A step line for work timed elsewhere (inside a library call): `[stage] text... N.N s`."""
        self.record(text, seconds, cpu)
        if self.enabled:
            print(f"[{self.stage}] {text}... {seconds:.1f} s", file=self.stream, flush=True)

    def bar(self, text: str, total: int) -> "ProgressBar":
        return ProgressBar(self, text, total)


class ProgressBar:
    """`[stage] text [####------] n/total`, redrawn in place on a terminal, once at the end otherwise."""

    def __init__(self, progress: Progress, text: str, total: int):
        self.progress = progress
        self.text = text
        self.total = max(int(total), 1)
        self.count = 0
        self._start = time.monotonic()
        self._cpu = cpu_seconds()
        self._tty = progress.enabled and progress._isatty()
        self._closed = False

    def _line(self) -> str:
        width = self.progress.bar_width
        filled = int(width * min(self.count, self.total) / self.total)
        return (f"[{self.progress.stage}] {self.text} [{'#' * filled}{'-' * (width - filled)}] "
                f"{self.count}/{self.total}")

    def update(self, n: int = 1) -> None:
        self.count += n
        if self._tty and not self._closed:
            self.progress.stream.write("\r" + self._line())
            self.progress.stream.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        elapsed = time.monotonic() - self._start
        self.progress.record(self.text, elapsed, cpu_seconds() - self._cpu)
        if not self.progress.enabled:
            return
        prefix = "\r" if self._tty else ""
        self.progress.stream.write(f"{prefix}{self._line()} {elapsed:.1f} s\n")
        self.progress.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


SILENT = Progress(enabled=False, timed=False)   # shared by every silent caller: keeps no timings
