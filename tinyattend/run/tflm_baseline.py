"""The TFLM + CMSIS-NN baseline, measured: `python -m tinyattend.run.tflm_baseline MODEL.tflite --board cortex-m7`.

TensorFlow Lite Micro (tensorflow/tflite-micro at TFLM_COMMIT) with the CMSIS-NN it pins (CMSIS_NN_COMMIT),
built by TFLM's own Makefile (`microlite`, TARGET=cortex_m_generic, OPTIMIZED_KERNEL_DIR=cmsis_nn,
BUILD_TYPE=release: core -Os, kernels -O2) with the system arm-none-eabi-gcc, once per core, into
$TFLM_BUILD_DIR (default bench-out/tflm-baseline/). A harness of ours (templates/tflm_baseline/) runs the
.tflite through tflite::MicroInterpreter with exactly the ops the model uses on the board's QEMU machine
(-icount shift=0): one warm-up Invoke, then one timed Invoke on the same input, the fixed pseudo-random
input of `tinyattend bench` (bench.bench_input).

Figures, per model and board:
  instructions  of the timed Invoke (SysTick ticks under -icount shift=0, as templates/firmware/main.c.j2)
  arena         interpreter.arena_used_bytes() after it
  code          runtime code flash: the .text* and .rodata* input sections the linker kept from
                libtensorflow-microlite.a (TFLM core, kernels and the CMSIS-NN objects compiled into it);
                not the harness (main, startup, the embedded .tflite), newlib, libgcc, libstdc++/libsupc++
  output_ok     the output bytes equal TFLM's host Python interpreter's for the same input

TFLM_PATH must name a TFLM tree whose tensorflow/lite/micro/tools/make/downloads/ already holds the
third-party code (the Makefile would try to download it): see POPULATE_DOWNLOADS.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__
from ..resources import source_checkout, templates_dir
from ..boards import Board, load_board
from ..build.firmware import DEFAULT_STACK_SIZE, render_firmware_project
from ..errors import BadModelError, RunError, TinyattendError, ToolchainError, UnsupportedOpError
from ..ir.tflite_reader import read_tflite
from .linker_map import kept_sections

TFLM_COMMIT = "90b983c2b3f1480642e040bbd2ddb37b998f3424"
CMSIS_NN_COMMIT = "4ab83cc3cc98fb85ed6dafb55e8ca02f1628dcae"
DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
# What TFLM's Makefile looks for (third_party.inc, ext_libs/cmsis*_download.sh): a directory that exists is
# taken as downloaded. pigweed is only used by TFLM's own tests; an empty directory satisfies the check.
REQUIRED_DOWNLOADS = ("flatbuffers/include/flatbuffers/flatbuffers.h", "gemmlowp/fixedpoint/fixedpoint.h",
                      "ruy/ruy/profiler/instrumentation.h", "kissfft/kiss_fft.h",
                      "cmsis/CMSIS/Core/Include/cmsis_compiler.h", "cmsis/Cortex_DFP/Device",
                      "cmsis_nn/Include/arm_nnfunctions.h", "pigweed")
POPULATE_DOWNLOADS = f"""\
D=$TFLM_PATH/{DOWNLOADS}; mkdir -p $D/gemmlowp $D/ruy $D/flatbuffers $D/kissfft $D/cmsis/Cortex_DFP $D/cmsis_nn $D/pigweed
git --git-dir=GEMMLOWP.git archive 719139ce755a0f31cbf1c37f7f98adcc7fc9f425 | tar -x -C $D/gemmlowp
git --git-dir=RUY.git archive d37128311b445e758136b8602d1bbd2a755e115d | tar -x -C $D/ruy
git --git-dir=FLATBUFFERS.git archive v25.9.23 | tar -x -C $D/flatbuffers
git --git-dir=KISSFFT.git archive v130 | tar -x -C $D/kissfft
git --git-dir=CMSIS_6.git archive 5782d6f8057906d360f4b95ec08a2354afe5c9b9 | tar -x -C $D/cmsis
git --git-dir=Cortex_DFP.git archive c2c70a97a20fb355815e2ead3d4a40e35a4a3cdf | tar -x -C $D/cmsis/Cortex_DFP
git --git-dir=CMSIS-NN.git archive {CMSIS_NN_COMMIT} | tar -x -C $D/cmsis_nn
for d in gemmlowp ruy flatbuffers kissfft; do find $D/$d -type f -name '*BUILD' -delete; done
patch -p1 -d $D/flatbuffers < $TFLM_PATH/tensorflow/lite/micro/tools/make/flatbuffers.patch
patch -p1 -d $D/kissfft < $TFLM_PATH/third_party/kissfft/kissfft.patch"""

# TFLM's TARGET_ARCH for a board's cpu, hard-float ABI as the board profiles use (cortex_m_generic_makefile.inc).
TFLM_TARGET_ARCH = {"cortex-m3": "cortex-m3", "cortex-m4": "cortex-m4+fp", "cortex-m7": "cortex-m7+fp",
                    "cortex-m33": "cortex-m33", "cortex-m55": "cortex-m55"}
LIBRARY = "libtensorflow-microlite.a"
DEFAULT_JOBS = 2
# RAM kept out of the arena for .data, .bss (the harness's input copy) and the heap.
RAM_RESERVE = 256 * 1024


class TflmBaselineError(ToolchainError):
    """The TFLM tree, its third-party downloads or its build are missing or failed."""


@dataclass(frozen=True)
class TflmLibrary:
    """libtensorflow-microlite.a for one core and the flags it was compiled with."""
    path: Path
    cxxflags: tuple[str, ...]         # TFLM's CXXFLAGS (defines, ABI) and include paths, absolute
    core_optimization: str            # -Os: what TFLM compiles its core (and our harness) with
    cmsis_nn_objects: frozenset[str]  # archive members that are CMSIS-NN's (arm_*.o)


def tflm_root() -> Path:
    """$TFLM_PATH, checked: a TFLM tree with its third-party downloads in place."""
    value = os.environ.get("TFLM_PATH")
    if not value:
        raise TflmBaselineError(
            "TFLM_PATH is not set: the TFLM + CMSIS-NN baseline is built from a TensorFlow Lite Micro tree",
            f"extract tensorflow/tflite-micro at {TFLM_COMMIT[:8]} (git --git-dir=TFLITE-MICRO.git archive "
            f"{TFLM_COMMIT} | tar -x -C DIR), export TFLM_PATH=DIR, and populate its downloads:\n"
            + POPULATE_DOWNLOADS)
    root = Path(value).expanduser().resolve()
    if not (root / "tensorflow/lite/micro/tools/make/Makefile").is_file():
        raise TflmBaselineError(f"TFLM_PATH={root} is not a TFLM tree (no tensorflow/lite/micro/tools/make/Makefile)",
                                f"point TFLM_PATH at tensorflow/tflite-micro {TFLM_COMMIT[:8]}")
    missing = [entry for entry in REQUIRED_DOWNLOADS if not (root / DOWNLOADS / entry).exists()]
    if missing:
        raise TflmBaselineError(
            f"TFLM's third-party downloads are missing under {root / DOWNLOADS}: {', '.join(missing)} "
            "(its Makefile would try to download them)",
            "populate them from git clones (GEMMLOWP.git etc. name each project's git directory):\n"
            + POPULATE_DOWNLOADS.replace("$TFLM_PATH", str(root)))
    return root


def build_root() -> Path:
    return Path(os.environ.get("TFLM_BUILD_DIR") or (source_checkout() or Path.cwd()) / "bench-out" / "tflm-baseline").resolve()


def target_arch(board: Board) -> str:
    arch = TFLM_TARGET_ARCH.get(board.cpu)
    if arch is None or board.run.get("kind") != "qemu":
        raise TflmBaselineError(f"board {board.name} ({board.cpu}) has no TFLM baseline here",
                                f"use an emulated board with one of these cpus: {', '.join(TFLM_TARGET_ARCH)}")
    return arch


def _make_command(tflm: Path, board: Board, build: Path, *goals: str, jobs: int = DEFAULT_JOBS) -> list[str]:
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise TflmBaselineError("arm-none-eabi-gcc is not on PATH",
                                "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi (12.2 measured the baseline)")
    return ["make", "-f", "tensorflow/lite/micro/tools/make/Makefile", f"-j{jobs}", "TARGET=cortex_m_generic",
            f"TARGET_ARCH={target_arch(board)}", "OPTIMIZED_KERNEL_DIR=cmsis_nn", "BUILD_TYPE=release",
            f"TARGET_TOOLCHAIN_ROOT={Path(gcc).parent}/", f"BASE_GENDIR={build / 'gen'}", *goals]


def _make_env() -> dict[str, str]:
    # The Makefile runs `python3` at parse time (examples' generate_cc_arrays.py needs numpy and PIL):
    # this interpreter's, not whatever python3 the system has.
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


_FLAGS_GOAL = ('ta_print_flags: ; @echo "TA_LIB=$(LIBDIR)libtensorflow-microlite.a"; '
               'echo "TA_CXXFLAGS=$(CXXFLAGS) $(INCLUDES)"; echo "TA_CORE=$(CORE_OPTIMIZATION_LEVEL)"')


def build_microlite(board: Board, *, jobs: int = DEFAULT_JOBS, quiet: bool = False) -> TflmLibrary:
    """Build (or bring up to date) TFLM's microlite library for the board's core; TFLM's make
    rebuilds nothing when nothing changed."""
    tflm, build = tflm_root(), build_root()
    build.mkdir(parents=True, exist_ok=True)
    log = build / f"make-{target_arch(board)}.log"
    if not quiet:
        print(f"tflm_baseline: make microlite for {target_arch(board)} in {build / 'gen'} (-j{jobs}: about "
              f"10 minutes the first time, seconds after; log {log})", file=sys.stderr, flush=True)
    # One make run: parsing TFLM's Makefile takes seconds; it builds the library and prints its flags.
    with open(log, "w") as out:
        done = subprocess.run(_make_command(tflm, board, build, "--eval", _FLAGS_GOAL, "microlite", "ta_print_flags",
                                            jobs=jobs), cwd=tflm, env=_make_env(), stdout=out, stderr=subprocess.STDOUT)
    output = log.read_text(errors="replace")
    if done.returncode != 0:
        raise TflmBaselineError(f"TFLM's make microlite failed for {target_arch(board)}:\n" + output[-2000:],
                                f"see {log}")
    values = dict(line.split("=", 1) for line in output.splitlines() if line.startswith("TA_") and "=" in line)
    if "TA_LIB" not in values or "TA_CXXFLAGS" not in values:
        raise TflmBaselineError(f"TFLM's make printed no compiler flags (ta_print_flags); see {log}")
    flags = []
    for flag in values["TA_CXXFLAGS"].split():
        if flag == "-MD":
            continue
        if flag.startswith("-I") and not flag[2:].startswith("/"):
            flag = f"-I{tflm / flag[2:]}"
        flags.append(flag)   # as the compiler saw them: -DCMSIS_DEVICE_ARM_CORTEX_M_XX_HEADER_FILE="ARMCM7.h"
    library = Path(values["TA_LIB"])
    library = library if library.is_absolute() else tflm / library
    cmsis_nn = frozenset(f"{p.stem}.o" for p in (tflm / DOWNLOADS / "cmsis_nn" / "Source").rglob("*.c"))
    return TflmLibrary(library, tuple(flags), values.get("TA_CORE", "-Os").strip(), cmsis_nn)


def resolver_calls(tflite: bytes, tflm: Path, name: str) -> list[str]:
    """MicroMutableOpResolver methods registering each op of the model once (AddConv2D, ...), in the
    model's order of first use."""
    header = (tflm / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    methods = {m[3:].lower(): m for m in re.findall(r"TfLiteStatus (Add\w+)\(", header)}
    calls, unknown = [], []
    for op in read_tflite(tflite, name).ops:
        method = methods.get(op.type.replace("_", "").lower())
        if method is None:
            unknown.append(op.type)
        elif method not in calls:
            calls.append(method)
    if unknown:
        raise UnsupportedOpError(f"{name}: TFLM's MicroMutableOpResolver has no Add method for "
                                 f"{', '.join(sorted(set(unknown)))}", "the TFLM baseline runs builtin ops only")
    return calls


def _render(template: str, **context) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "tflm_baseline")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template(template).render(version=__version__, **context)


def _run(cmd: list[str], what: str, cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise TflmBaselineError(f"{what} failed:\n{' '.join(cmd)}\n{(done.stdout + done.stderr)[-3000:]}")


def build_harness(tflite_path: Path, board: Board, library: TflmLibrary, project: Path) -> Path:
    """Write and link the harness for one model and board in `project`; returns the ELF
    (its GNU ld map is next to it, harness.map)."""
    tflite = tflite_path.read_bytes()
    name = tflite_path.stem
    graph = read_tflite(tflite, name)
    if len(graph.inputs) != 1:
        raise BadModelError(f"{name}: the TFLM baseline harness feeds one input; the model has {len(graph.inputs)}")
    project.mkdir(parents=True, exist_ok=True)
    (project / "model.tflite").write_bytes(tflite)
    stack = int(board.firmware.get("stack_size", DEFAULT_STACK_SIZE))
    arena = (board.ram.length - stack - RAM_RESERVE) // 16 * 16
    context = dict(board=board, model_name=re.sub(r"[^A-Za-z0-9_.-]", "?", name), model_bytes=len(tflite),
                   model_sha256=hashlib.sha256(tflite).hexdigest(), arena_size=arena,
                   input_bytes=graph.tensors[graph.inputs[0]].nbytes,
                   resolver_calls=resolver_calls(tflite, tflm_root(), name),
                   tflite_path=str((project / "model.tflite").resolve()))
    firmware = render_firmware_project(board)   # our firmware's startup, linker script and board header, as they are
    files = {"harness.cc": _render("harness.cc.j2", **context), "model.S": _render("model.S.j2", **context),
             "startup.c": firmware["startup.c"], "linker.ld": firmware["linker.ld"], "ta_board.h": firmware["ta_board.h"]}
    for file, text in files.items():
        (project / file).write_text(text)
    cpu = list(board.cflags)
    _run(["arm-none-eabi-g++", *library.cxxflags, library.core_optimization, f"-I{project}", "-c", "harness.cc",
          "-o", "harness.o"], "compiling the TFLM harness", project)
    _run(["arm-none-eabi-gcc", *cpu, "-O2", "-ffunction-sections", "-fdata-sections", "-I.", "-c", "startup.c",
          "-o", "startup.o"], "compiling startup.c", project)
    _run(["arm-none-eabi-gcc", *cpu, "-c", "model.S", "-o", "model.o"], "assembling model.S", project)
    _run(["arm-none-eabi-g++", *cpu, "-T", "linker.ld", "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
          "-Wl,--gc-sections", "-Wl,-Map=harness.map", *board.ldflags, "startup.o", "harness.o", "model.o",
          str(library.path), "-lm", "-o", "harness.elf"], "linking the TFLM harness", project)
    return project / "harness.elf"


def runtime_code(map_file: Path, library: TflmLibrary) -> dict[str, int]:
    """Bytes of the .text* and .rodata* input sections the linker kept from libtensorflow-microlite.a,
    from its GNU ld map: {'code_tflm': TFLM core and kernels, 'code_cmsis_nn': the CMSIS-NN objects in
    the archive, 'code': both}."""
    sections = kept_sections(map_file.read_text(errors="replace"))
    if sections is None:
        raise TflmBaselineError(f"{map_file} is not a GNU ld map")
    sizes = {"code_tflm": 0, "code_cmsis_nn": 0}
    member = re.compile(re.escape(LIBRARY) + r"\((?P<object>[^)]+)\)$")
    for name, size, obj in sections:
        match = member.search(obj)
        if match and name.startswith((".text", ".rodata")):
            sizes["code_cmsis_nn" if match["object"] in library.cmsis_nn_objects else "code_tflm"] += size
    sizes["code"] = sizes["code_tflm"] + sizes["code_cmsis_nn"]
    return sizes


def benchmark_input(tflite: bytes, name: str) -> np.ndarray:
    """The input `tinyattend bench` feeds the same model: bench.bench_input (fixed seed), of the input's
    shape (its batch axis included)."""
    from .bench import bench_input
    from .runner import ModelInfo
    graph = read_tflite(tflite, name)
    tensor = graph.tensors[graph.inputs[0]]
    quant = {"scale": tensor.quant.scale[0], "zero_point": tensor.quant.zero_point[0]} if tensor.quant else {}
    out = graph.tensors[graph.outputs[0]]
    info = ModelInfo(Path("."), Path("."), {"input": quant}, tuple(tensor.shape), tuple(out.shape),
                     tensor.nbytes, out.nbytes, tensor.dtype, out.dtype)
    return bench_input(info)


def measure(tflite_path: Path, board_name: str, *, timeout: float = 900.0, jobs: int = DEFAULT_JOBS,
            quiet: bool = False) -> dict:
    """Build TFLM (once per core) and the harness, run one warm-up and one timed Invoke on the board's
    QEMU machine, and check the output against TFLM's host interpreter. Returns instructions, arena,
    code (bytes; tflm and cmsis_nn split), stack, output_ok and what was measured."""
    from ..verify import tflm_reference
    from .qemu import run_qemu
    tflite_path = Path(tflite_path).resolve()
    if not tflite_path.is_file():
        raise BadModelError(f"{tflite_path} does not exist")
    board = load_board(board_name)
    library = build_microlite(board, jobs=jobs, quiet=quiet)
    tflite = tflite_path.read_bytes()
    project = build_root() / "harness" / f"{tflite_path.stem}-{board.name}"
    elf = build_harness(tflite_path, board, library, project)
    x = benchmark_input(tflite, tflite_path.stem)
    result = run_qemu(board, elf, x.tobytes(), timeout=timeout)
    used = [line.split()[1] for line in result.lines if line.startswith("TA:ARENA_USED ")]
    if not used or result.status != 0:
        raise RunError(f"the TFLM harness on {board.name} did not finish its Invoke (status {result.status})",
                       f"see {project}")
    reference = tflm_reference(tflite_path, x[None])[0]
    expected = np.ascontiguousarray(reference).reshape(-1).view(np.uint8).tobytes()
    return {"model": tflite_path.stem, "board": board.name, "instructions": result.total, "arena": int(used[0]),
            **runtime_code(project / "harness.map", library), "stack": result.stack_bytes,
            "output_ok": result.output == expected, "sha256": hashlib.sha256(tflite).hexdigest(),
            "tflm_commit": TFLM_COMMIT[:8], "cmsis_nn_commit": CMSIS_NN_COMMIT[:8], "target_arch": target_arch(board),
            "elf": str(elf)}


def tflm_baseline_command(args: argparse.Namespace) -> int:
    """Measure each model on each board and print the figures; 1 when an output differs from TFLM's host
    interpreter. Errors (TinyattendError) are the caller's to print."""
    failed = False
    for board in args.board or ["cortex-m7"]:
        for model in args.models:
            r = measure(model, board, timeout=args.timeout, jobs=args.jobs)
            failed |= not r["output_ok"]
            print(json.dumps(r) if args.json else
                  f"{r['model']} on {r['board']} (TFLM {r['tflm_commit']} + CMSIS-NN {r['cmsis_nn_commit']}, {r['target_arch']}): "
                  f"{r['instructions']:,} instructions (QEMU icount), arena {r['arena']:,} B, runtime code {r['code']:,} B "
                  f"(TFLM {r['code_tflm']:,} + CMSIS-NN {r['code_cmsis_nn']:,}), "
                  f"stack {r['stack']:,} B, output = TFLM host: {'yes' if r['output_ok'] else 'NO'}", flush=True)
    return 1 if failed else 0


def add_tflm_baseline_arguments(parser: argparse.ArgumentParser) -> None:
    """`tinyattend tflm-baseline`'s arguments (also `python -m tinyattend.run.tflm_baseline`'s)."""
    parser.add_argument("models", nargs="+", type=Path, help=".tflite files (int8, builtin ops)")
    parser.add_argument("--board", action="append", help="cortex-m7 (default), cortex-m3, cortex-m4, cortex-m33, cortex-m55; repeatable")
    parser.add_argument("--jobs", type=int, default=2, help="make -j for TFLM's build (default 2)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds QEMU may take per model")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyattend.run.tflm_baseline", description=__doc__.splitlines()[0])
    add_tflm_baseline_arguments(parser)
    try:
        return tflm_baseline_command(parser.parse_args(argv))
    except TinyattendError as err:
        print(err.render(), file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
