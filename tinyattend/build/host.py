"""Build and run the generated model on the development machine (board `host`).

The host runner is for verification against TFLM, not for timing.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__
from ..resources import templates_dir
from ..errors import RunError, ToolchainError

# What AddressSanitizer ("ERROR: AddressSanitizer: ...") and UBSan ("file.c:12:5: runtime error: ...") print.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|: runtime error: ")
SANITIZE_FLAGS = "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"


def write_host_project(project_dir: Path, cflags: str = "-O2") -> None:
    """Write `host/main.c` and `host/Makefile` beside the generated `model/` folder (named as its --prefix
    names them)."""
    from ..codegen.prefix import for_library
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "host")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    project_dir.mkdir(parents=True, exist_ok=True)
    for name in ("main.c", "Makefile"):
        (project_dir / name).write_text(for_library(env.get_template(f"{name}.j2").render(version=__version__, cflags=cflags),
                                                     project_dir.parent / "model"))


def build_host(out_dir: Path, *, sanitize: bool = False, cc: str | None = None) -> Path:
    """Compile OUT/model + OUT/host into OUT/host/model_host (or model_host_san). Returns the binary."""
    out_dir = Path(out_dir)
    host_dir = out_dir / "host"
    from ..codegen.prefix import model_file
    if not model_file(out_dir / "model", "model.c").is_file():
        raise ToolchainError(f"{out_dir} has no generated model (model/model.c)",
                             f"run `tinyattend convert MODEL --board host -o {out_dir}` first")
    if not (host_dir / "main.c").is_file():
        write_host_project(host_dir)
    compiler = cc or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise ToolchainError("no C compiler (gcc or cc) on PATH", "install gcc (Debian: apt-get install gcc)")
    binary = host_dir / ("model_host_san" if sanitize else "model_host")
    sources = sorted(str(p) for p in (out_dir / "model").glob("*.c")) + [str(host_dir / "main.c")]
    flags = (SANITIZE_FLAGS if sanitize else "-O2").split()
    includes, objects = [], []
    if "cmsis-nn" in _report_libraries(out_dir):
        includes, objects = _build_cmsis_nn(out_dir, compiler, flags, binary.name)
    cmd = [compiler, "-std=c99", "-Wall", "-Wextra", "-Werror", *flags, f"-I{out_dir / 'model'}", *includes,
           *sources, *objects, "-o", str(binary), "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(f"host build of {out_dir} failed:\n{result.stderr[-4000:]}",
                             "this is a tinyattend bug if the generated code does not compile; please report it")
    return binary


def _report_libraries(out_dir: Path) -> list[str]:
    report = out_dir / "report.json"
    if report.is_file():
        return list(json.loads(report.read_text()).get("libraries", []))
    from .cmsis_nn import uses_cmsis_nn
    return ["cmsis-nn"] if uses_cmsis_nn(out_dir / "model") else []


def _build_cmsis_nn(out_dir: Path, compiler: str, flags: list[str], variant: str) -> tuple[list[str], list[str]]:
    """Compile the CMSIS-NN files the model reaches (from CMSIS_NN_PATH; its plain-C path on the host)
    into OUT/host/<variant>-cmsis-nn/. Returns (include flags, object files). Third-party code:
    built with the model's optimisation flags and AddressSanitizer but not its -Werror, nor UBSan:
    CMSIS-NN left-shifts negative values and computes (1 << 31) - 1, which GCC wraps as intended."""
    from .cmsis_nn import cmsis_nn_root, model_sources
    root = cmsis_nn_root(required=True)
    include = f"-I{root / 'Include'}"
    obj_dir = out_dir / "host" / f"{variant}-cmsis-nn"
    obj_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    for rel in model_sources(root, out_dir / "model"):
        obj = obj_dir / (Path(rel).stem + ".o")
        library_flags = [*flags, "-fno-sanitize=undefined"] if any(f.startswith("-fsanitize") for f in flags) else flags
        cmd = [compiler, *library_flags, include, "-c", str(root / rel), "-o", str(obj)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"compiling CMSIS-NN's {rel} from {root} failed:\n{result.stderr[-4000:]}",
                                 "check that CMSIS_NN_PATH names CMSIS-NN v7.0.0")
        objects.append(str(obj))
    return [include], objects


def sanitizer_summary(stderr: str, start: int) -> str:
    """The report from its first line to AddressSanitizer's SUMMARY line (the shadow-byte dump after it
    helps nobody reading an error), at most 4000 characters."""
    start = stderr.rfind("\n", 0, start) + 1
    end = stderr.find("\n", stderr.find("SUMMARY:", start))
    text = stderr[start:] if stderr.find("SUMMARY:", start) < 0 or end < 0 else stderr[start:end]
    return text if len(text) <= 4000 else text[:2000] + "\n...\n" + text[-2000:]


def run_host(binary: Path, inputs: np.ndarray, input_bytes: int, output_shape: tuple[int, ...],
             timeout: float = 600.0, *, output_dtype: str = "int8") -> np.ndarray:
    """Run N inputs (first axis) through the host binary; returns N outputs of `output_dtype`.

    The inputs are int8, or float32 for a model whose input is float32 (they are passed as
    their raw bytes); `input_bytes` is the size of one input in bytes (TA_INPUT_SIZE)."""
    inputs = np.asarray(inputs)
    inputs = np.ascontiguousarray(inputs if inputs.dtype == np.float32 else inputs.astype(np.int8))
    count = inputs.shape[0]
    if inputs[0].nbytes != input_bytes:
        raise RunError(f"each input has {inputs[0].nbytes} bytes ({inputs.dtype}), the model expects {input_bytes}")
    out_type = np.dtype(output_dtype)
    with tempfile.TemporaryDirectory(prefix="tinyattend-run-") as tmp:
        in_path, out_path = Path(tmp) / "inputs.bin", Path(tmp) / "outputs.bin"
        in_path.write_bytes(inputs.tobytes())
        try:
            result = subprocess.run([str(binary), str(in_path), str(out_path)], capture_output=True,
                                    text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RunError(f"{binary} did not finish in {timeout:.0f} s") from None
        if result.returncode != 0:
            found = SANITIZER_REPORT.search(result.stderr)
            if found:
                raise RunError(f"the generated C failed a sanitizer check in {binary}:\n"
                               f"{sanitizer_summary(result.stderr, found.start())}",
                               "this is a tinyattend bug: please report it with OUT/model.tflite")
            raise RunError(f"{binary} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
        raw = out_path.read_bytes()
    per_output = int(np.prod(output_shape))
    if len(raw) != count * per_output * out_type.itemsize:
        raise RunError(f"{binary} wrote {len(raw)} bytes for {count} inputs; "
                       f"expected {count * per_output * out_type.itemsize}")
    return np.frombuffer(raw, dtype=out_type).reshape((count, *output_shape))
