"""`tinyattend run OUT --board B --input X.npy --output Y.npy`: one inference on a board.

Emulated boards run the firmware on QEMU (semihosting); real boards are flashed with
pyOCD and talked to over serial; `host` builds and runs the model natively.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..boards import Board, load_board
from ..build.firmware import FirmwareBuild, build_firmware, model_header_value, write_firmware_project
from ..errors import BadModelError, CalibrationDataError, RunError
from .protocol import RunResult


@dataclass(frozen=True)
class ModelInfo:
    """What a converted OUT directory holds about its model."""
    out_dir: Path
    model_dir: Path
    report: dict
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_bytes: int
    output_bytes: int
    input_dtype: str = "int8"        # int8, or float32 for a model with a float input (QUANTIZE first)
    output_dtype: str = "int8"       # int8, or float32 for a model with a float output (DEQUANTIZE last)


def model_info(out_dir: Path) -> ModelInfo:
    out_dir = Path(out_dir)
    model_dir = out_dir / "model"
    from ..codegen.prefix import model_file
    if not model_file(model_dir, "model.h").is_file():
        raise BadModelError(f"{out_dir} holds no generated model (model/model.h)",
                            f"run `tinyattend convert MODEL --board BOARD -o {out_dir}` first")
    from ..outdir import read_report
    report = read_report(out_dir, required=False)
    input_bytes = model_header_value(model_dir, "TA_INPUT_SIZE")
    output_bytes = model_header_value(model_dir, "TA_OUTPUT_SIZE")
    input_shape = tuple((report.get("input") or {}).get("shape") or (1, input_bytes))
    output_shape = tuple((report.get("output") or {}).get("shape") or (1, output_bytes))
    input_dtype = (report.get("input") or {}).get("dtype") or "int8"
    output_dtype = (report.get("output") or {}).get("dtype") or "int8"
    return ModelInfo(out_dir, model_dir, report, input_shape, output_shape, input_bytes, output_bytes,
                     input_dtype, output_dtype)


def firmware_dir(info: ModelInfo, board: Board, transport: str) -> Path:
    """OUT/firmware for the board the model was converted for; OUT/firmware-<board>[-uart] otherwise."""
    if board.name == info.report.get("board") and transport == "semihosting":
        return info.out_dir / "firmware"
    return info.out_dir / (f"firmware-{board.name}" + ("-uart" if transport == "uart" else ""))


def build_for_board(info: ModelInfo, board: Board, *, transport: str = "semihosting") -> FirmwareBuild:
    project = firmware_dir(info, board, transport)
    write_firmware_project(project, board, info.model_dir, transport=transport)
    return build_firmware(project, board)


def run_on_board(info: ModelInfo, board: Board, input_data: bytes, *, transport: str | None = None,
                 timeout: float = 120.0, port: str | None = None, on_line=None) -> tuple[RunResult, FirmwareBuild]:
    """Build the firmware for `board` and run one inference with `input_data` (the input's bytes, NHWC).
    QEMU boards default to semihosting, or to their UART on a pty (run.serial_link: pty) spoken to by
    the serial code real boards use; real boards always use the UART. `on_line(line, link)` sees each
    line a serial-linked board sends."""
    kind = board.run.get("kind")
    if kind == "qemu" and board.run.get("serial_link") == "pty" and transport in (None, "uart"):
        from .qemu_serial import run_qemu_serial
        build = build_for_board(info, board, transport="uart")
        return run_qemu_serial(board, build.elf, input_data, timeout=timeout, on_line=on_line), build
    if kind == "qemu":
        from .qemu import run_qemu
        transport = transport or "semihosting"
        build = build_for_board(info, board, transport=transport)
        return run_qemu(board, build.elf, input_data, transport=transport, timeout=timeout), build
    if kind == "pyocd":
        from .serial_link import run_serial
        build = build_for_board(info, board, transport="uart")
        return run_serial(board, build.elf, input_data, port=port, timeout=timeout, on_line=on_line), build
    raise RunError(f"board {board.name} (run.kind {kind}) has no firmware runner", "use --board host")


def load_input(path: Path, info: ModelInfo) -> np.ndarray:
    """An .npy of the model's input type (int8, or float32) and shape (the batch dimension of 1 may be left out)."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise CalibrationDataError(f"cannot read {path} as .npy: {err}", "save the input with numpy.save") from None
    if info.input_dtype == "float32":
        if x.dtype != np.float32:
            raise CalibrationDataError(f"{path} holds {x.dtype}; the model takes float32",
                                       "save the input as float32 (the model quantizes it itself)")
    elif x.dtype != np.int8:
        raise CalibrationDataError(f"{path} holds {x.dtype}; the model takes int8",
                                   "quantize it first: round(x / scale + zero_point), clipped to -128..127, "
                                   f"with the scale and zero point in {info.out_dir}/report.json")
    values = int(np.prod(info.input_shape))
    if x.size != values or x.nbytes != info.input_bytes:
        raise CalibrationDataError(f"{path} has shape {x.shape} ({x.size} values); the model's input is "
                                   f"{info.input_shape} ({values} values)", "pass one input sample, NHWC")
    return np.ascontiguousarray(x).reshape(info.input_shape)


def run_command(args) -> int:
    info = model_info(args.out)
    board = load_board(args.board)
    x = load_input(Path(args.input), info)
    if board.is_host:
        from ..build.host import build_host, run_host
        binary = build_host(info.out_dir)
        y = run_host(binary, x[None], info.input_bytes, info.output_shape, output_dtype=info.output_dtype)[0]
    else:
        result, _ = run_on_board(info, board, x.tobytes(), timeout=getattr(args, "timeout", 120.0))
        if result.status != 0:
            raise RunError(f"ta_invoke returned {result.status} on {board.name}")
        y = np.frombuffer(result.output, dtype=info.output_dtype).reshape(info.output_shape)
    save_atomically(Path(args.output), y)
    return 0


def save_atomically(path: Path, array: np.ndarray) -> None:
    """np.save to `path` through a temporary file in the same folder: a run that fails or is
    interrupted leaves no half-written output."""
    path = path if path.suffix == ".npy" else path.with_name(path.name + ".npy")   # np.save's own rule
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as out:
            np.save(out, array)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
