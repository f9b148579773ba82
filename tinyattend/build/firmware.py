"""Firmware projects: render templates/firmware/ for a board around a generated model
library, build it with arm-none-eabi-gcc, and report its size.

A project is `project_dir/` with `Makefile`, `CMakeLists.txt`, `arm-none-eabi.cmake`,
`linker.ld` (from the profile's flash/ram regions), `startup.c`, `main.c` (the benchmark
harness speaking the TA: line protocol), `ta_board.h` and a copy of the model in `model/`.
Files are rewritten only when their bytes change, so `make` stays incremental.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .. import __version__
from ..resources import templates_dir
from ..boards import Board, MemoryRegion
from ..codegen.prefix import DEFAULT_PREFIX, for_library, library_prefix, model_file
from ..errors import DoesNotFitError, ToolchainError

TRANSPORTS = ("semihosting", "uart")
DEFAULT_STACK_SIZE = 16 * 1024
TEMPLATE_FILES = {  # template -> project file
    "ta_board.h.j2": "ta_board.h",
    "startup.c.j2": "startup.c",
    "main.c.j2": "main.c",
    "linker.ld.j2": "linker.ld",
    "Makefile.j2": "Makefile",
    "CMakeLists.txt.j2": "CMakeLists.txt",
    "arm-none-eabi.cmake.j2": "arm-none-eabi.cmake",
}
APT_FIX = ("install the Arm bare-metal toolchain: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
           "make (or run `make setup` in the tinyattend repository)")


@dataclass(frozen=True)
class FirmwareBuild:
    """A linked firmware image and its size in bytes (as arm-none-eabi-size counts them)."""
    elf: Path
    text: int   # code and constants (weights included)
    data: int   # initialised RAM, stored in flash too
    bss: int    # zeroed and uninitialised RAM: arena, stack, heap

    @property
    def flash_bytes(self) -> int:
        return self.text + self.data


def model_header_value(model_dir: Path, name: str) -> int:
    """An integer `#define` from the model library's model.h (e.g. TA_ARENA_SIZE; a library written with
    --prefix kws is asked the same and answers from kws_model.h's KWS_ARENA_SIZE)."""
    prefix = library_prefix(model_dir)
    if prefix != DEFAULT_PREFIX and name.startswith("TA_"):
        name = f"{prefix.upper()}_{name[3:]}"
    header = model_file(model_dir, "model.h")
    text = header.read_text()
    match = re.search(rf"^\s*#define\s+{name}\s+\(?\s*(\d+)[uU]?\s*\)?", text, re.MULTILINE)
    if not match:
        raise ToolchainError(f"{header} defines no {name}",
                             "regenerate the model with `tinyattend convert`")
    return int(match.group(1))


def _timer(board: Board) -> tuple[str, int]:
    """SysTick on QEMU (deterministic under -icount), DWT->CYCCNT core cycles on a real board."""
    if board.run.get("kind") == "qemu":
        return "systick", int(board.run.get("systick_hz", board.clock_hz))
    return "dwt", board.clock_hz


def _uart(board: Board) -> tuple[dict | None, int]:
    uart = board.firmware.get("uart")
    if not uart:
        return None, 0
    baud = int((board.run.get("serial") or {}).get("baud", 115200))
    if "brr" in uart:
        divisor = int(uart["brr"])
    else:
        divisor = max(16, round(uart.get("clock_hz", board.clock_hz) / baud))
    return uart, divisor


def _regions(board: Board) -> list[MemoryRegion]:
    return [board.flash, board.ram, *board.extra_regions]


def check_fits(board: Board, model_dir: Path) -> None:
    """Refuse a model whose arena plus stack cannot fit the board's RAM, with the numbers.
    (Weights against flash are checked by the linker, see build_firmware.)"""
    arena = model_header_value(model_dir, "TA_ARENA_SIZE")
    stack = int(board.firmware.get("stack_size", DEFAULT_STACK_SIZE))
    if arena + stack > board.ram.length:
        raise DoesNotFitError(
            f"the model's arena ({arena} B) plus the stack ({stack} B) is {arena + stack} B; "
            f"{board.name}'s RAM region holds {board.ram.length} B at 0x{board.ram.origin:08X} "
            f"({arena + stack - board.ram.length} B too many)",
            "use a board with more RAM, a smaller input resolution or model, or --optimize size")


def _cmsis_nn_context(model_dir: Path | None) -> dict | None:
    """For a model that calls CMSIS-NN: its version, repository, CMSIS_NN_PATH if set, and the
    source files the model reaches (None when CMSIS_NN_PATH is unset: all of Source/*/*.c)."""
    from .cmsis_nn import CMSIS_NN_GIT, CMSIS_NN_VERSION, cmsis_nn_root, model_sources, uses_cmsis_nn
    if model_dir is None or not uses_cmsis_nn(model_dir):
        return None
    root = cmsis_nn_root(required=False)
    return {"version": CMSIS_NN_VERSION, "git": CMSIS_NN_GIT, "path": str(root) if root else "",
            "sources": model_sources(root, model_dir) if root else None}


def render_firmware_project(board: Board, *, transport: str = "semihosting",
                            model_dir: Path | None = None) -> dict[str, str]:
    """The project's generated files (name -> text), without the model. `model_dir` tells
    whether the model needs CMSIS-NN (then the build compiles the files it reaches)."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}")
    if board.is_host:
        raise ToolchainError("board 'host' has no firmware project", "pick a microcontroller board")
    uart, divisor = _uart(board)
    if transport == "uart" and uart is None:
        raise ToolchainError(f"board {board.name} has no firmware.uart in its profile",
                             "add firmware: {uart: {kind, base, clock_hz}} to the profile, or use semihosting")
    timer, timer_hz = _timer(board)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "firmware")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    context = dict(
        version=__version__, board=board, transport=transport, timer=timer, timer_hz=timer_hz,
        uart=uart, uart_divisor=divisor, caches=bool(board.firmware.get("caches")),
        regions=_regions(board), vectors_region=board.firmware.get("vectors", "flash"),
        stack_size=int(board.firmware.get("stack_size", DEFAULT_STACK_SIZE)),
        heap_size=int(board.firmware.get("heap_size", 0)),
        cpu_flags=list(board.cflags), specs="--specs=nano.specs --specs=nosys.specs",
        profile_file=board.path.name if board.path else f"{board.name}.yaml",
        cmsis_nn=_cmsis_nn_context(model_dir),
    )
    return {out: env.get_template(tpl).render(**context) for tpl, out in TEMPLATE_FILES.items()}


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def write_firmware_project(project_dir: Path, board: Board, model_dir: Path, *,
                           transport: str = "semihosting") -> None:
    """Render the firmware project for `board` into project_dir and copy model_dir into
    project_dir/model. Same inputs, same bytes. Raises DoesNotFitError if the arena and
    stack cannot fit the board's RAM."""
    project_dir, model_dir = Path(project_dir), Path(model_dir)
    if not model_file(model_dir, "model.h").is_file():
        raise ToolchainError(f"{model_dir} holds no generated model (model.h)",
                             "run `tinyattend convert MODEL --board BOARD -o OUT` first")
    check_fits(board, model_dir)
    files = render_firmware_project(board, transport=transport, model_dir=model_dir)
    files = {name: for_library(text, model_dir) for name, text in files.items()}   # the library's --prefix
    (project_dir / "model").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        _write_if_changed(project_dir / name, text.encode())
    wanted = {p.name for p in model_dir.iterdir() if p.is_file() and p.suffix in (".c", ".h")}
    for stale in (project_dir / "model").iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name in sorted(wanted):
        _write_if_changed(project_dir / "model" / name, (model_dir / name).read_bytes())


_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")
_NOT_FIT = re.compile(r"section `([\w.]+)' will not fit in region `(\w+)'")


def _does_not_fit(board: Board, log: str) -> DoesNotFitError | None:
    overflows = _OVERFLOW.findall(log)
    if not overflows:
        return None
    sections = {}
    for section, region in _NOT_FIT.findall(log):
        sections.setdefault(region, []).append(section)
    by_name = {r.name.upper(): r for r in _regions(board)}
    parts = []
    for region_name, extra in overflows:
        region = by_name.get(region_name)
        size = f"{region.length} B at 0x{region.origin:08X}" if region else "?"
        what = ", ".join(sections.get(region_name, [])) or "the image"
        parts.append(f"{what} overflow {board.name}'s {region_name.lower()} region ({size}) by {extra} B")
    return DoesNotFitError("the firmware does not fit: " + "; ".join(parts),
                           "use a board with more flash/RAM, a smaller model, or --optimize size")


def _check_cmsis_nn(project_dir: Path) -> None:
    """A model that calls CMSIS-NN needs CMSIS_NN_PATH, or the path the Makefile was written with;
    raises ToolchainError saying how to get CMSIS-NN otherwise."""
    from .cmsis_nn import cmsis_nn_root, is_cmsis_nn_tree, uses_cmsis_nn
    if not uses_cmsis_nn(project_dir / "model"):
        return
    if os.environ.get("CMSIS_NN_PATH", "").strip():
        cmsis_nn_root(required=True)        # make takes the environment's path: it must be a CMSIS-NN tree
        return
    written = re.search(r"^CMSIS_NN_PATH \?= *(\S*)", (project_dir / "Makefile").read_text(), re.MULTILINE)
    if not (written and written.group(1) and is_cmsis_nn_tree(Path(written.group(1)))):
        cmsis_nn_root(required=True)


def build_firmware(project_dir: Path, board: Board, *, jobs: int = 2) -> FirmwareBuild:
    """Run `make` in project_dir; returns the ELF and its text/data/bss sizes.
    Raises ToolchainError (compiler missing or failing) or DoesNotFitError (linker overflow)."""
    project_dir = Path(project_dir)
    for tool in ("make", "arm-none-eabi-gcc", "arm-none-eabi-size"):
        if shutil.which(tool) is None:
            raise ToolchainError(f"{tool} is not on PATH; the firmware for {board.name} cannot be built", APT_FIX)
    _check_cmsis_nn(project_dir)
    result = subprocess.run(["make", "-C", str(project_dir), f"-j{jobs}", "--no-print-directory"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        log = result.stdout + result.stderr
        too_big = _does_not_fit(board, log)
        if too_big:
            raise too_big
        raise ToolchainError(f"building the firmware in {project_dir} failed:\n{log[-4000:]}",
                             "generated code should build warning-free; if it does not, it is a tinyattend bug: "
                             "please report it with this output")
    elf = project_dir / "build" / "firmware.elf"
    size = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in size.stdout.splitlines()[1].split()[:3])
    return FirmwareBuild(elf=elf, text=text, data=data, bss=bss)
