"""A memory limit on a block of work (the conversion), watched from a thread.

The pre-checks refuse declared sizes over the limits before any work, but a library can still grow
without bound on a model that passes them (onnx2tf and TensorFlow build graphs in Python and C). A
watchdog thread samples the resident memory of this process and its children; over the limit it
interrupts the main thread, which raises ResourceLimitError at its next Python instruction, so the
usual cleanup runs. Work stuck inside one C call cannot be interrupted: if the main thread has not
left the block GRACE_SECONDS later and memory is still over, the watchdog removes the staging
directories in use (nothing half-written stays) and ends the process with exit code 2.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading

from .errors import ResourceLimitError
from .guard import LimitSignal

INTERVAL_SECONDS = 0.2
# Finding the children means reading every process's /proc entry (psutil), 5-200 ms on a busy machine,
# with the GIL handed to and fro per file: this process alone is sampled every INTERVAL_SECONDS, with
# its children every CHILDREN_EVERY-th sample.
CHILDREN_EVERY = 5
GRACE_SECONDS = 15.0
FIX = ("check the model (a corrupt or hostile file can make the converter build enormous graphs); if it is "
       "meant to need this much, raise the limit with TINYATTEND_MAX_MEMORY_BYTES=N")


class MemoryLimitExceeded(LimitSignal):
    """Raised in the main thread by the watchdog's signal."""


def resident_bytes(children: bool = True) -> int | None:
    """Resident memory of this process (and its children), or None where it cannot be read."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in (me.children(recursive=True) if children else ()):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total
    except psutil.Error:
        return None


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


@contextlib.contextmanager
def memory_limit(max_bytes: int, what: str, staging_dirs=()):
    """ResourceLimitError when the process (with its children) holds more than `max_bytes` resident.
    Main thread only, where psutil is installed; elsewhere the block runs unwatched."""
    if threading.current_thread() is not threading.main_thread() or max_bytes <= 0 or resident_bytes() is None:
        yield
        return
    done, seen = threading.Event(), {}
    main_id = threading.main_thread().ident

    def interrupt(signum, frame):
        seen["fired"] = True
        raise MemoryLimitExceeded()

    def watch():
        samples, children_bytes = 0, 0
        while not done.wait(INTERVAL_SECONDS):
            samples += 1
            own = resident_bytes(children=False) or 0
            if samples % CHILDREN_EVERY == 0:
                children_bytes = max(0, (resident_bytes() or 0) - own)
            used = own + children_bytes      # the children as last measured
            if used <= max_bytes:
                continue
            seen["bytes"] = used
            signal.pthread_kill(main_id, signal.SIGUSR1)
            if done.wait(GRACE_SECONDS) or (resident_bytes() or 0) <= max_bytes:
                return
            for folder in staging_dirs:
                shutil.rmtree(folder, ignore_errors=True)
            sys.stderr.write(f"error: {what} used {_gib(used)}, over tinyattend's memory limit of "
                             f"{_gib(max_bytes)}, inside a library call that could not be interrupted\n"
                             f"  fix: {FIX}\n")
            sys.stderr.flush()
            os._exit(2)

    previous = signal.signal(signal.SIGUSR1, interrupt)
    watcher = threading.Thread(target=watch, name="tinyattend-memory-limit", daemon=True)
    watcher.start()
    try:
        yield
    except BaseException as err:
        # as guard.time_limit: a library may have turned the signal's exception into its own
        if not (seen.get("fired") or isinstance(err, MemoryLimitExceeded)):
            raise
        raise ResourceLimitError(f"{what} used {_gib(seen.get('bytes', 0))}, over tinyattend's memory limit of "
                                 f"{_gib(max_bytes)}", FIX) from None
    finally:
        done.set()
        watcher.join()
        signal.signal(signal.SIGUSR1, previous)
