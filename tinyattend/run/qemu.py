"""Run a firmware ELF on the board's QEMU machine with a deterministic instruction count
(-icount shift=0: one nanosecond of virtual time per instruction).

Two transports, one protocol (protocol.exchange):
  semihosting  the harness reads input.bin from the working directory and writes TA: lines
               to QEMU's stdout; it exits through SYS_EXIT_EXTENDED.
  uart         UART0 is a TCP socket on 127.0.0.1 (tinyattend listens, QEMU connects);
               the input goes in as TA:INPUT lines, as it would to a real board.
"""
from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from ..boards import Board
from ..errors import RunError, ToolchainError
from .protocol import RunResult, exchange

QEMU = "qemu-system-arm"


def qemu_command(board: Board, elf: Path, *, transport: str = "semihosting", port: int | None = None) -> list[str]:
    """The qemu-system-arm command line for `elf` on `board` (a run.kind: qemu profile)."""
    if board.run.get("kind") != "qemu":
        raise RunError(f"board {board.name} does not run on QEMU (run.kind: {board.run.get('kind')})",
                       "use an emulated board (cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55, stm32f405-qemu) "
                       "or a serial link")
    cmd = [QEMU, "-machine", board.run["machine"], "-kernel", str(elf), "-nographic", "-monitor", "none",
           "-icount", "shift=0"]
    if transport == "semihosting":
        cmd += ["-semihosting-config", "enable=on,target=native", "-serial", "none"]
    else:
        cmd += ["-chardev", f"socket,id=ta_uart,host=127.0.0.1,port={port}", "-serial", "chardev:ta_uart"]
    return cmd


class _PipeLink:
    """Lines from a process's stdout, with timeouts (a reader thread feeds a queue)."""

    def __init__(self, stream) -> None:
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self._lines.put(raw.decode("ascii", "replace"))
        self._lines.put(None)

    def readline(self, timeout: float) -> str | None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            raise EOFError
        return line

    def writeline(self, line: str) -> None:
        raise RunError("the semihosting transport takes its input from input.bin, not from lines")


class SocketLink:
    """Lines over a connected TCP socket (QEMU's UART chardev)."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._buffer = b""

    def readline(self, timeout: float) -> str | None:
        while b"\n" not in self._buffer:
            self._conn.settimeout(max(timeout, 0.001))
            try:
                chunk = self._conn.recv(4096)
            except socket.timeout:
                return None
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("ascii", "replace")

    def writeline(self, line: str) -> None:
        self._conn.sendall(line.encode("ascii") + b"\n")


def _check_qemu() -> None:
    if shutil.which(QEMU) is None:
        raise ToolchainError(f"{QEMU} is not on PATH; emulated boards need it",
                             "apt-get install qemu-system-arm (or run `make setup` in the tinyattend repository)")


def stopped_with_its_words(err: RunError, proc: subprocess.Popen) -> RunError:
    """`err` with what QEMU wrote on stderr added, QEMU ended."""
    stderr = _stop(proc).strip()
    if stderr:
        err.message += f"\nQEMU said: {stderr}"
    return err


def _stop(proc: subprocess.Popen) -> str:
    """End QEMU (if still running) and return the tail of its stderr."""
    if proc.poll() is None:
        proc.kill()
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        return ""
    return (err or b"").decode("utf-8", "replace")[-2000:]


def run_qemu(board: Board, elf: Path, input_data: bytes, *, transport: str = "semihosting",
             timeout: float = 60.0) -> RunResult:
    """Run `elf` once on the board's QEMU machine with `input_data` (the model's int8 input
    bytes) and return what the firmware reported. Raises RunError for a hang (after `timeout`
    seconds), a fault or a protocol error, naming the layer."""
    _check_qemu()
    what = f"the firmware on {board.name} (QEMU {board.run['machine']}, {transport})"
    with tempfile.TemporaryDirectory(prefix="tinyattend-qemu-") as tmp:
        if transport == "semihosting":
            (Path(tmp) / "input.bin").write_bytes(input_data)
            proc = subprocess.Popen(qemu_command(board, Path(elf).resolve()), cwd=tmp, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                result = exchange(_PipeLink(proc.stdout), input_data, timeout=timeout, what=what)
            except RunError as err:
                raise stopped_with_its_words(err, proc)
            try:
                proc.wait(timeout=10)
            finally:
                _stop(proc)
            return result
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            proc = subprocess.Popen(qemu_command(board, Path(elf).resolve(), transport="uart", port=port), cwd=tmp,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                server.settimeout(min(timeout, 30.0))
                try:
                    conn, _ = server.accept()
                except socket.timeout:
                    raise RunError(f"QEMU did not connect its UART to 127.0.0.1:{port}: {_stop(proc)}") from None
                with conn:
                    return exchange(SocketLink(conn), input_data, timeout=timeout, what=what)
            except RunError as err:
                raise stopped_with_its_words(err, proc)
            finally:
                _stop(proc)
