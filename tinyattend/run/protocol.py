"""The TA: line protocol between the benchmark firmware (templates/firmware/main.c.j2) and
the host, the same over semihosting stdout and over a UART.

Firmware -> host, one ASCII line each, in this order:
    TA:BEGIN <board> timer=<systick|dwt> hz=<ticks/s> input=<B> output=<B> arena=<B> layers=<n>
    TA:READY                       UART only: send the input now
    TA:ENTER <layer> <op>          warm-up run, as each layer begins (names the layer of a hang)
    TA:LAYER <layer> <ticks> <op>  timed run
    TA:TOTAL <ticks>
    TA:STACK <bytes>               stack high-water mark (painted stack, scanned after the run)
    TA:OUTPUT <hex>                one or more lines, concatenated in order
    TA:END <status>                ta_invoke's return value; the run is over
    TA:FAULT layer=<i> pc=<hex> cfsr=<hex> hfsr=<hex>   a fault; the run is over
    TA:ERROR <message>
Host -> firmware (UART): TA:INPUT <hex> lines, at most 64 bytes each, TA_INPUT_SIZE bytes in all.
Lines not starting with TA: are ignored (boot banners, debug prints).

Ticks: with timer=systick (QEMU, -icount shift=0) one tick is 1e9/hz emulated instructions;
with timer=dwt (a real board) one tick is one core cycle.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import RunError

PREFIX = "TA:"
INPUT_BYTES_PER_LINE = 64


@dataclass(frozen=True)
class LayerTiming:
    index: int
    op: str
    ticks: int


@dataclass
class RunResult:
    """What one firmware run reported."""
    board: str = ""
    timer: str = ""            # "systick" (QEMU) or "dwt" (real board)
    timer_hz: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    arena_bytes: int = 0
    num_layers: int = 0
    layers: list[LayerTiming] = field(default_factory=list)
    total_ticks: int = 0
    stack_bytes: int = 0
    output: bytes = b""
    status: int | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def emulated(self) -> bool:
        return self.timer == "systick"

    @property
    def count_unit(self) -> str:
        return "instructions (QEMU icount)" if self.emulated else "cycles (DWT->CYCCNT)"

    def count(self, ticks: int) -> int:
        """Ticks -> instructions (QEMU: 1 ns of virtual time per instruction) or cycles."""
        if self.emulated:
            return round(ticks * 1_000_000_000 / self.timer_hz)
        return ticks

    @property
    def total(self) -> int:
        return self.count(self.total_ticks)


def format_input(data: bytes) -> list[str]:
    """TA:INPUT lines carrying `data`."""
    return [f"{PREFIX}INPUT {data[i:i + INPUT_BYTES_PER_LINE].hex()}"
            for i in range(0, len(data), INPUT_BYTES_PER_LINE)]


def _key_values(words: list[str]) -> dict[str, str]:
    return dict(word.split("=", 1) for word in words if "=" in word)


class Transcript:
    """Feeds on protocol lines and keeps the run's state. `done` once TA:END arrives;
    `fault` / `error` hold the firmware's own report of a failure."""

    def __init__(self) -> None:
        self.result = RunResult()
        self.entered: list[tuple[int, str]] = []   # (layer, op) of each TA:ENTER, in order
        self.ready = False
        self.done = False
        self.fault: dict[str, str] | None = None
        self.error: str | None = None

    def feed(self, line: str) -> None:
        line = line.strip()
        start = line.find(PREFIX)
        if start < 0:
            return
        line = line[start:]
        self.result.lines.append(line)
        tag, _, rest = line[len(PREFIX):].partition(" ")
        words = rest.split()
        r = self.result
        try:
            if tag == "BEGIN":
                values = _key_values(words[1:])
                r.board, r.timer, r.timer_hz = words[0], values["timer"], int(values["hz"])
                r.input_bytes, r.output_bytes = int(values["input"]), int(values["output"])
                r.arena_bytes, r.num_layers = int(values["arena"]), int(values["layers"])
            elif tag == "READY":
                self.ready = True
            elif tag == "ENTER":
                self.entered.append((int(words[0]), words[1] if len(words) > 1 else "?"))
            elif tag == "LAYER":
                r.layers.append(LayerTiming(int(words[0]), words[2] if len(words) > 2 else "?", int(words[1])))
            elif tag == "TOTAL":
                r.total_ticks = int(words[0])
            elif tag == "STACK":
                r.stack_bytes = int(words[0])
            elif tag == "OUTPUT":
                r.output += bytes.fromhex(words[0]) if words else b""
            elif tag == "END":
                r.status = int(words[0])
                self.done = True
            elif tag == "FAULT":
                self.fault = _key_values(words)
            elif tag == "ERROR":
                self.error = rest
        except (IndexError, KeyError, ValueError):
            raise RunError(f"malformed protocol line from the board: {line!r}",
                           "the firmware and tinyattend disagree on the TA: protocol; rebuild the firmware") from None

    def layer_name(self, index: int) -> str:
        for layer, op in self.entered:
            if layer == index:
                return f"layer {index} ({op})"
        return f"layer {index}"

    def where(self) -> str:
        """Where the firmware was, for a hang or crash message."""
        if not self.result.board:
            return "before the harness started (no TA:BEGIN)"
        if not self.entered:
            return "before the first layer (reading the input or starting up)"
        layer, op = self.entered[-1]
        if layer == self.result.num_layers - 1:
            return (f"in layer {layer} ({op}), the last one, or in the timed run after the warm-up "
                    f"run finished")
        return f"in layer {layer} ({op}) of the warm-up run"

    def fault_message(self) -> str:
        fault = self.fault or {}
        layer = int(fault.get("layer", -1))
        where = self.layer_name(layer) if layer >= 0 else "before the first layer"
        details = ", ".join(f"{k}={fault[k]}" for k in ("pc", "cfsr", "hfsr") if k in fault)
        return f"the firmware faulted in {where} ({details})"


class LinkLost(EOFError):
    """The transport failed under the protocol: a serial port unplugged or closed, an emulator gone."""


class Link(Protocol):
    """A transport carrying protocol lines: QEMU's stdout, a socket, or a serial port."""

    def readline(self, timeout: float) -> str | None:
        """The next line, or None if none came within `timeout` seconds; raises EOFError when closed."""

    def writeline(self, line: str) -> None:
        ...


def exchange(link: Link, input_data: bytes, *, timeout: float, what: str, on_line=None) -> RunResult:
    """Talk to the firmware over `link` until TA:END: send the input when it says TA:READY,
    collect its report. Raises RunError for a fault, an early end, a lost link, or no TA:END
    within `timeout` seconds, naming the layer the firmware was in. `on_line(line, link)`, if
    given, sees each line received (before it is acted on)."""
    transcript = Transcript()
    deadline = time.monotonic() + timeout
    while not transcript.done:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RunError(f"{what} did not finish within {timeout:g} s: it hung {transcript.where()}",
                           "look for an infinite loop in that layer's kernel, or raise --timeout for a big model")
        try:
            line = link.readline(remaining)
        except LinkLost as err:
            raise RunError(f"the serial link to {what} was lost {transcript.where()} ({err}); "
                           "no result was kept",
                           "check the cable (or the emulator), then run again") from None
        except EOFError:
            if transcript.fault:
                raise RunError(transcript.fault_message(), "this is a bug in the generated code or a kernel; "
                               "please report it with the model") from None
            raise RunError(f"{what} ended without TA:END, {transcript.where()}"
                           + (f": {transcript.error}" if transcript.error else ""),
                           "see the messages above; rebuild the firmware") from None
        if line is None:
            continue
        if on_line is not None:
            on_line(line, link)
        transcript.feed(line)
        if transcript.fault:
            raise RunError(transcript.fault_message(),
                           "this is a bug in the generated code or a kernel; please report it with the model")
        if transcript.ready and line.strip().endswith("TA:READY"):
            try:
                for input_line in format_input(input_data):
                    link.writeline(input_line)
            except LinkLost as err:
                raise RunError(f"the serial link to {what} was lost sending the input ({err}); "
                               "no result was kept", "check the cable (or the emulator), then run again") from None
    result = transcript.result
    if transcript.error:
        raise RunError(f"{what}: the firmware reported: {transcript.error}",
                       "check the input: int8, with exactly the model's input size")
    if len(result.output) != result.output_bytes:
        raise RunError(f"{what} sent {len(result.output)} output bytes; the model has {result.output_bytes}")
    return result
