"""Board profiles: load and validate `boards/*.yaml` against one schema.

A profile is data: the CPU and its ISA extensions, the memory regions the
linker script is made from, compiler flags, and how to run a binary on it
(native on the host, QEMU, or pyOCD + a serial port). Nothing in Python
hard-codes a board.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .resources import boards_dir as _boards_dir
from .errors import BoardError

CPUS = ("host", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
ISA_EXTENSIONS = ("dsp", "mve")
RUNNERS = ("host", "qemu", "pyocd")
# run.serial_link (QEMU boards): the protocol goes over the board's UART on a pseudo-terminal, through the
# serial code a real board uses, instead of semihosting.
SERIAL_LINKS = ("pty",)
# Optional `firmware:` settings used by build/firmware.py (all have defaults).
FIRMWARE_KEYS = ("vectors", "stack_size", "heap_size", "caches", "uart")
UART_KINDS = ("cmsdk", "stm32-usart", "stm32-usart-v1", "nrf-uart")


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    origin: int
    length: int  # bytes


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str
    isa: tuple[str, ...]
    clock_hz: int
    flash: MemoryRegion | None       # where code and const weights go
    ram: MemoryRegion | None         # where the arena, stack and data go
    extra_regions: tuple[MemoryRegion, ...]
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    run: dict = field(hash=False, compare=False)   # runner-specific settings
    # firmware-project settings: vectors (region name holding the vector table,
    # default flash), stack_size, heap_size (bytes), caches (enable M7 I/D caches),
    # uart {kind, base, clock_hz, init: [[address, mask, value], ...]}
    firmware: dict = field(default_factory=dict, hash=False, compare=False)
    path: Path | None = field(default=None, compare=False)

    @property
    def is_host(self) -> bool:
        return self.cpu == "host"

    @property
    def has_dsp(self) -> bool:
        return "dsp" in self.isa

    @property
    def has_mve(self) -> bool:
        return "mve" in self.isa


def _size(value, where: str) -> int:
    """Accept 1234, '0x400', '512K', '4M'."""
    if isinstance(value, int):
        return value
    text = str(value).strip().upper()
    scale = 1
    if text.endswith("K"):
        scale, text = 1024, text[:-1]
    elif text.endswith("M"):
        scale, text = 1024 * 1024, text[:-1]
    try:
        return int(text, 0) * scale
    except ValueError:
        raise BoardError(f"{where}: '{value}' is not a size",
                         "write a byte count such as 0x20000000, 524288, 512K or 4M") from None


def _region(name: str, spec, where: str) -> MemoryRegion:
    if not isinstance(spec, dict) or "origin" not in spec or "length" not in spec:
        raise BoardError(f"{where}: memory region '{name}' needs 'origin' and 'length'",
                         "example: ram: {origin: 0x20000000, length: 512K}")
    return MemoryRegion(name, _size(spec["origin"], where), _size(spec["length"], where))


def parse_board(data: dict, where: str) -> Board:
    """Validate one profile's parsed YAML. Raises BoardError naming the field."""
    if not isinstance(data, dict):
        raise BoardError(f"{where}: a board profile must be a YAML mapping")
    required = ("name", "cpu", "run")
    missing = [key for key in required if key not in data]
    if missing:
        raise BoardError(f"{where}: missing field(s) {', '.join(missing)}",
                         f"every profile needs {', '.join(required)}")
    cpu = data["cpu"]
    if cpu not in CPUS:
        raise BoardError(f"{where}: cpu '{cpu}' is not supported", f"use one of {', '.join(CPUS)}")
    isa = tuple(data.get("isa", ()))
    bad_isa = [ext for ext in isa if ext not in ISA_EXTENSIONS]
    if bad_isa:
        raise BoardError(f"{where}: unknown ISA extension(s) {bad_isa}",
                         f"known: {', '.join(ISA_EXTENSIONS)}")
    run = data["run"]
    if not isinstance(run, dict) or run.get("kind") not in RUNNERS:
        raise BoardError(f"{where}: run.kind must be one of {', '.join(RUNNERS)}")
    if run["kind"] == "qemu" and "machine" not in run:
        raise BoardError(f"{where}: a qemu board needs run.machine", "e.g. machine: mps2-an500")
    if run.get("serial_link") not in (None, *SERIAL_LINKS):
        raise BoardError(f"{where}: run.serial_link must be one of {', '.join(SERIAL_LINKS)}",
                         "pty: QEMU's UART on a pseudo-terminal, driven like a real board's serial port")
    if run.get("serial_link") and not (data.get("firmware") or {}).get("uart"):
        raise BoardError(f"{where}: run.serial_link needs firmware.uart", "name the UART the protocol runs over")
    memory = data.get("memory", {}) or {}
    if cpu != "host" and not {"flash", "ram"} <= set(memory):
        raise BoardError(f"{where}: a microcontroller profile needs memory.flash and memory.ram")
    regions = {name: _region(name, spec, where) for name, spec in memory.items()}
    firmware = _firmware(data.get("firmware", {}) or {}, set(regions), where)
    return Board(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        cpu=cpu,
        isa=isa,
        clock_hz=_size(data.get("clock_hz", 0), where),
        flash=regions.pop("flash", None),
        ram=regions.pop("ram", None),
        extra_regions=tuple(regions.values()),
        cflags=tuple(data.get("cflags", ())),
        ldflags=tuple(data.get("ldflags", ())),
        run=dict(run),
        firmware=firmware,
    )


def _firmware(spec, region_names: set[str], where: str) -> dict:
    """Validate the optional `firmware:` mapping; sizes become byte counts."""
    if not isinstance(spec, dict):
        raise BoardError(f"{where}: firmware must be a mapping", f"known keys: {', '.join(FIRMWARE_KEYS)}")
    unknown = sorted(set(spec) - set(FIRMWARE_KEYS))
    if unknown:
        raise BoardError(f"{where}: unknown firmware key(s) {unknown}", f"known keys: {', '.join(FIRMWARE_KEYS)}")
    out = dict(spec)
    if "vectors" in out and out["vectors"] not in region_names:
        raise BoardError(f"{where}: firmware.vectors '{out['vectors']}' is not a memory region",
                         f"name one of {', '.join(sorted(region_names))}")
    for key in ("stack_size", "heap_size"):
        if key in out:
            out[key] = _size(out[key], where)
    if "uart" in out:
        uart = out["uart"]
        if not isinstance(uart, dict) or uart.get("kind") not in UART_KINDS or "base" not in uart:
            raise BoardError(f"{where}: firmware.uart needs kind ({', '.join(UART_KINDS)}) and base",
                             "example: uart: {kind: cmsdk, base: 0x40004000, clock_hz: 25000000}")
        init = uart.get("init", []) or []
        if not all(isinstance(w, (list, tuple)) and len(w) == 3 for w in init):
            raise BoardError(f"{where}: firmware.uart.init must be a list of [address, mask, value]")
        out["uart"] = {**uart, "base": _size(uart["base"], where),
                       "clock_hz": _size(uart.get("clock_hz", 0), where),
                       "init": [tuple(_size(v, where) for v in w) for w in init]}
    return out


def known_boards(boards_dir: Path | None = None) -> list[str]:
    boards_dir = boards_dir or _boards_dir()
    return sorted(p.stem for p in boards_dir.glob("*.yaml"))


def load_board(name: str, boards_dir: Path | None = None) -> Board:
    """Load `boards/<name>.yaml`, or a path to a profile file."""
    boards_dir = boards_dir or _boards_dir()
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        path = candidate
    else:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise BoardError(f"unknown board '{name}'", f"known boards: {', '.join(known_boards(boards_dir))}")
        path = boards_dir / f"{name}.yaml"
        if not path.is_file():
            raise BoardError(f"unknown board '{name}'",
                             f"known boards: {', '.join(known_boards(boards_dir))} "
                             f"(or pass a path to your own profile .yaml)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise BoardError(f"{path}: not valid YAML ({err})") from None
    board = parse_board(data, str(path))
    return Board(**{**board.__dict__, "path": path})
