"""An emulated board spoken to like a real one: QEMU's UART on a pseudo-terminal, opened with
pyserial and driven by serial_link's SerialLink and protocol.exchange, the code that talks to a
board over its USB serial port (run.serial_link: pty in the profile).

QEMU starts paused (-S). Once the pty is open, QMP's `cont` lets the core run, as run_serial opens
the port before pyOCD resets the board: the firmware's first line (TA:BEGIN) cannot be lost.
Failures are named by layer: the emulator (did not start, died), the serial link (cut), the
firmware (fault, hang: protocol.exchange names the model layer).
"""
from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..boards import Board
from ..errors import RunError, ToolchainError
from .protocol import RunResult, exchange
from .qemu import QEMU, _check_qemu, _stop, stopped_with_its_words
from .serial_link import PYSERIAL_FIX, SerialLink

UART_ID = "ta_uart"
START_TIMEOUT = 20.0   # seconds for QEMU to open its monitor socket and pty


def qemu_serial_command(board: Board, elf: Path, qmp_path: Path) -> list[str]:
    """QEMU, paused, with the board's first UART on a pty and a QMP socket at qmp_path."""
    return [QEMU, "-machine", board.run["machine"], "-kernel", str(elf), "-nographic", "-monitor", "none",
            "-icount", "shift=0,sleep=off", "-S", "-chardev", f"pty,id={UART_ID}", "-serial", f"chardev:{UART_ID}",
            "-qmp", f"unix:{qmp_path},server=on,wait=off"]


class Qmp:
    """The QEMU Machine Protocol over a unix socket: one command at a time, events skipped."""

    def __init__(self, path: Path, proc: subprocess.Popen, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RunError(f"QEMU exited (status {proc.returncode}) before it started the board: {_stop(proc)}",
                               "check the board profile's run.machine and the firmware ELF")
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(max(1.0, deadline - time.monotonic()))
                self._sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self._sock.close()
                if time.monotonic() > deadline:
                    raise RunError(f"QEMU opened no monitor socket within {timeout:g} s") from None
                time.sleep(0.02)
        self._file = self._sock.makefile("rwb")
        self._reply()                                   # the greeting
        self.command("qmp_capabilities")

    def _reply(self) -> dict:
        while True:
            line = self._file.readline()
            if not line:
                raise RunError("QEMU closed its monitor socket")
            message = json.loads(line)
            if "event" not in message:
                return message

    def command(self, name: str, **arguments) -> object:
        self._file.write(json.dumps({"execute": name, **({"arguments": arguments} if arguments else {})}).encode()
                         + b"\n")
        self._file.flush()
        reply = self._reply()
        if "error" in reply:
            raise RunError(f"QEMU refused {name}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def close(self) -> None:
        self._file.close()
        self._sock.close()


def pty_path(qmp: Qmp) -> str:
    """The pseudo-terminal QEMU put the UART on (query-chardev: filename 'pty:/dev/pts/N')."""
    for chardev in qmp.command("query-chardev"):
        if chardev.get("label") == UART_ID and str(chardev.get("filename", "")).startswith("pty:"):
            return chardev["filename"][len("pty:"):]
    raise RunError("QEMU reported no pseudo-terminal for the board's UART")


def run_qemu_serial(board: Board, elf: Path, input_data: bytes, *, timeout: float = 60.0,
                    on_line: Callable[[str, SerialLink], None] | None = None) -> RunResult:
    """Run `elf` (a UART-transport build) once on the board's QEMU machine, over its UART on a pty,
    with the serial code a real board uses. `on_line(line, link)` sees each line the board sends (tests
    cut the link with it). Raises RunError naming the layer that failed; QEMU is always stopped."""
    try:
        import serial
    except ImportError:
        raise ToolchainError("pyserial is not installed; serial links need it", PYSERIAL_FIX) from None
    _check_qemu()
    baud = int((board.run.get("serial") or {}).get("baud", 115200))
    what = f"the firmware on {board.name} (QEMU {board.run['machine']}, UART on a pty)"
    with tempfile.TemporaryDirectory(prefix="tinyattend-qemu-") as tmp:
        qmp_path = Path(tmp) / "qmp.sock"
        proc = subprocess.Popen(qemu_serial_command(board, Path(elf).resolve(), qmp_path), cwd=tmp,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        qmp = port = None
        try:
            qmp = Qmp(qmp_path, proc)
            name = pty_path(qmp)
            try:
                port = serial.Serial(name, baudrate=baud, timeout=0.5)
            except serial.SerialException as err:
                raise RunError(f"cannot open QEMU's pseudo-terminal {name}: {err}") from None
            qmp.command("cont")                         # the board comes out of reset now
            return exchange(SerialLink(port), input_data, timeout=timeout, what=what, on_line=on_line)
        except RunError as err:
            raise stopped_with_its_words(err, proc)
        finally:
            if port is not None:
                port.close()
            if qmp is not None:
                qmp.close()
            _stop(proc)
