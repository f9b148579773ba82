"""A real board: flash the firmware with pyOCD, then speak the TA: protocol over its
serial port with pyserial (the same protocol.exchange the QEMU UART run uses).

The board profile says how: run: {kind: pyocd, target: <pyOCD target>, serial: {baud, port}}.
The port can also come from the TINYATTEND_SERIAL_PORT environment variable or the caller
(pytest --hil-port).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from ..boards import Board
from ..errors import RunError, ToolchainError
from .protocol import LinkLost, RunResult, exchange

PYOCD_FIX = "pip install pyocd==0.46.0 (and the target's pack: pyocd pack install <target>)"
PYSERIAL_FIX = "pip install pyserial==3.5"


class SerialLink:
    """Protocol lines over a pyserial port (a board's USB serial port, or QEMU's UART on a pty).
    A port that fails (unplugged, closed, the emulator gone) raises LinkLost."""

    def __init__(self, port) -> None:
        self._port = port
        self._buffer = b""

    def readline(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self._port.is_open:
                raise LinkLost(f"{self._port.name} is closed")
            try:
                self._port.timeout = min(remaining, 0.5)
                self._buffer += self._port.read(max(1, self._port.in_waiting))
            except (OSError, ValueError) as err:    # SerialException is an OSError; a closed fd, ValueError
                raise LinkLost(f"reading {self._port.name}: {err}") from None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("ascii", "replace")

    def writeline(self, line: str) -> None:
        # Paced per line: a polled UART receiver on a slow reset clock must keep up.
        if not self._port.is_open:
            raise LinkLost(f"{self._port.name} is closed")
        try:
            self._port.write(line.encode("ascii") + b"\n")
            self._port.flush()
        except (OSError, ValueError) as err:
            raise LinkLost(f"writing {self._port.name}: {err}") from None

    def cut(self) -> None:
        """Drop the link from the host's side, as a pulled cable does (for the fault tests): the port
        closes and what was received but not yet read is gone with it."""
        self._port.close()
        self._buffer = b""


def serial_port(board: Board, port: str | None = None) -> str:
    port = port or os.environ.get("TINYATTEND_SERIAL_PORT") or (board.run.get("serial") or {}).get("port")
    if not port:
        raise RunError(f"no serial port for {board.name}",
                       "set TINYATTEND_SERIAL_PORT=/dev/ttyACM0 (or run.serial.port in the board profile)")
    return port


def flash_elf(board: Board, elf: Path, *, probe: str | None = None, timeout: float = 120.0) -> None:
    """Program `elf` into the board with pyOCD and reset it (it starts running)."""
    pyocd = shutil.which("pyocd")
    if pyocd is None:
        raise ToolchainError("pyocd is not installed; it flashes real boards", PYOCD_FIX)
    cmd = [pyocd, "flash", "--target", board.run["target"], "--format", "elf"]
    if probe:
        cmd += ["--uid", probe]
    result = subprocess.run([*cmd, str(elf)], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise ToolchainError(f"pyocd could not flash {board.name}:\n{(result.stdout + result.stderr)[-3000:]}",
                             "check the USB cable and that no other debugger holds the probe; " + PYOCD_FIX)


def run_serial(board: Board, elf: Path, input_data: bytes, *, port: str | None = None,
               timeout: float = 120.0, flash: bool = True, on_line=None) -> RunResult:
    """Flash `elf` (UART transport build) into a real board and run it once over serial.
    `on_line(line, link)` sees each line the board sends (the fault tests cut the link with it)."""
    try:
        import serial
    except ImportError:
        raise ToolchainError("pyserial is not installed; real boards need it", PYSERIAL_FIX) from None
    baud = int((board.run.get("serial") or {}).get("baud", 115200))
    name = serial_port(board, port)
    try:
        link_port = serial.Serial(name, baudrate=baud, timeout=0.5)
    except serial.SerialException as err:
        raise RunError(f"cannot open serial port {name}: {err}", "check --hil-port / TINYATTEND_SERIAL_PORT") from None
    with link_port:
        link_port.reset_input_buffer()
        if flash:
            flash_elf(board, elf)   # resets the board: the harness starts with TA:BEGIN
        return exchange(SerialLink(link_port), input_data, timeout=timeout,
                        what=f"the firmware on {board.name} ({name})", on_line=on_line)
