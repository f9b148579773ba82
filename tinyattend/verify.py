"""Bit-exactness against TensorFlow Lite Micro, the oracle for every int8 kernel it has.

`tflm_reference` runs the TFLM Python interpreter (PyPI `tflite-micro`) on the
same .tflite; `verify_outputs` compares it with the generated C, byte for byte.
A model with an op TFLM has no kernel for (GELU, RELU_0_TO_1: codegen/oracle.py)
runs in TFLM with those ops as LiteRT's reference-kernel tables (oracle_model.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from .codegen.oracle import ORACLE_NAMES, TFLM
from .errors import BadModelError, RunError

DEFAULT_TFLM_ARENA = 4 * 1024 * 1024


class TflmCrashed(BadModelError):
    """TFLM's interpreter killed its process (a failed CHECK) preparing the model: a malformed model."""


@contextlib.contextmanager
def _captured_c_output():
    """Capture what C code prints to fd 1 and fd 2 (TFLM logs there, not to sys.stdout)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        captured = {"text": ""}
        try:
            yield captured
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            captured["text"] = sink.read().decode("utf-8", "replace")


def _interpreter(model: bytes, arena_size: int):
    from tflite_micro.python.tflite_micro import runtime
    return runtime.Interpreter.from_bytes(model, arena_size=arena_size)


def tflm_reference(tflite_path, inputs: np.ndarray, arena_size: int = DEFAULT_TFLM_ARENA) -> np.ndarray:
    """Run N inputs (first axis) through TFLM; returns the N int8 outputs."""
    model = Path(tflite_path).read_bytes()
    with _captured_c_output() as log:
        try:
            interpreter = _interpreter(model, arena_size)
        except RuntimeError:
            interpreter = None
    if interpreter is None:
        raise RunError(f"TFLM could not prepare {tflite_path}:\n{log['text'][-2000:]}")
    outputs = []
    for sample in inputs:   # each sample has the model's full input shape, batch dimension included
        interpreter.reset()
        interpreter.set_input(np.ascontiguousarray(sample), 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).copy())
    return np.stack(outputs)


_REFERENCE_SCRIPT = r"""
import sys
import numpy as np
sys.path[:0] = [sys.argv[4]]
from tinyattend.verify import tflm_reference
np.save(sys.argv[3], tflm_reference(sys.argv[1], np.load(sys.argv[2])))
"""


def tflm_reference_isolated(tflite_path, inputs: np.ndarray, timeout: float = 600.0) -> np.ndarray:
    """`tflm_reference` in a child process, for models from users: TFLM's host build aborts the whole
    process (a failed CHECK, signal 6) on some malformed models it does not refuse cleanly."""
    with tempfile.TemporaryDirectory(prefix="tinyattend-tflm-") as tmp:
        np.save(Path(tmp) / "in.npy", np.ascontiguousarray(inputs))
        root = str(Path(__file__).resolve().parent.parent)
        try:
            result = subprocess.run([sys.executable, "-c", _REFERENCE_SCRIPT, str(tflite_path), str(Path(tmp) / "in.npy"),
                                     str(Path(tmp) / "out.npy"), root], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RunError(f"TFLM did not finish {tflite_path} in {timeout:.0f} s") from None
        if result.returncode == 0:
            return np.load(Path(tmp) / "out.npy")
    if "TFLM could not prepare" in result.stderr:     # the child's RunError, without its traceback
        detail = result.stderr[result.stderr.rindex("TFLM could not prepare"):].split("\n", 1)[-1]
        raise RunError(f"TFLM could not prepare {tflite_path}:\n{detail[-2000:]}")
    how = f"signal {-result.returncode}" if result.returncode < 0 else f"exit {result.returncode}"
    raise RunError(f"TFLM crashed ({how}) on {tflite_path}: the model is malformed in a way TFLM does not check",
                   "re-export the model; tinyattend compares with TFLM and cannot verify a model TFLM cannot run")


def litert_reference(tflite_path, inputs: np.ndarray) -> np.ndarray:
    """Run N inputs through LiteRT with its reference kernels (BUILTIN_REF, not the optimized ones)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    interpreter = Interpreter(model_content=Path(tflite_path).read_bytes(),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    outputs = []
    for sample in inputs:
        interpreter.set_tensor(source, np.ascontiguousarray(sample))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(sink).copy())
    return np.stack(outputs)


def reference_outputs(tflite_path, inputs: np.ndarray, isolated: bool = False) -> tuple[np.ndarray, str]:
    """(outputs, oracle) from the model's oracle (codegen.oracle): TFLM, with each op TFLM lacks
    replaced by LiteRT BUILTIN_REF's table for it (oracle_model.tflm_runnable). `isolated`: TFLM runs
    in a child process (tflm_reference_isolated), for models from users."""
    run = tflm_reference_isolated if isolated else tflm_reference
    from .codegen.oracle import litert_only_op_types, model_oracle
    from .ir.tflite_reader import read_tflite
    from .oracle_model import tflm_runnable
    model = Path(tflite_path).read_bytes()
    oracle = model_oracle(op.type for op in read_tflite(model).ops)
    if oracle == TFLM:
        return run(tflite_path, inputs), oracle
    runnable, _ = tflm_runnable(model, litert_only_op_types())
    with tempfile.TemporaryDirectory(prefix="tinyattend-oracle-") as tmp:
        path = Path(tmp) / "model_tflm_runnable.tflite"
        path.write_bytes(runnable)
        return run(path, inputs), oracle


# From `size` up in steps of 16 bytes: the first arena TFLM allocates the model in ("OK size").
_PROBE_LOOP = r"""
for _ in range(4096):
    try:
        runtime.Interpreter.from_bytes(model, arena_size=size)
        print("OK", size, flush=True)
        break
    except RuntimeError:
        print("FAIL", size, flush=True)
        size += 16
"""

_PROBE_SCRIPT = r"""
import sys
from tflite_micro.python.tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
size = int(sys.argv[2])
""" + _PROBE_LOOP


# The allocation report (TFLM prints it to stderr, which the child reads back and passes on), then
# _PROBE_SCRIPT's walk in the same child, from the report's total rounded up to 16 bytes.
_ARENA_SCRIPT = r"""
import os, re, sys, tempfile
from tflite_micro.python.tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
report = ""
try:
    interpreter = runtime.Interpreter.from_bytes(model, arena_size=int(sys.argv[2]))
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            interpreter.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        report = sink.read().decode("utf-8", "replace")
    sys.stderr.write(report)
    sys.stderr.flush()
    del interpreter
except RuntimeError as err:
    print("FAILED", err)
total = re.search(r"allocation total (\d+)", report)
size = (int(total.group(1)) + 15) // 16 * 16 if total is not None else None
if size is not None:
""" + textwrap.indent(_PROBE_LOOP, "    ")


def tflm_arena(model: bytes) -> dict:
    """The smallest arena TFLM (host build, 64-bit) allocates this model in, and its
    allocation report (head = activations, tail = persistent data).

    TFLM's host build can corrupt its own memory when an arena is too small (its
    "available" count underflows), so the probing runs in a child process: it
    starts at the reported total and walks up in 16-byte steps (prepare needs a
    little temporary memory beyond the total), restarting past a size that crashed.
    The allocation report comes from a child too: nothing here touches this process's
    file descriptors, so the pipeline can run it beside code generation (a thread).
    """
    generous = max(DEFAULT_TFLM_ARENA, 8 * len(model))
    with tempfile.TemporaryDirectory(prefix="tinyattend-tflm-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        # One child prints the allocation report and probes from its total up (_ARENA_SCRIPT): another
        # Python start (and TFLM import) only where a probe crashed it.
        result = subprocess.run([sys.executable, "-c", _ARENA_SCRIPT, str(path), str(generous)],
                                capture_output=True, text=True, timeout=300)
        text = result.stdout + result.stderr
        figures = {}
        for key, pattern in (("tflm_arena_total", r"allocation total (\d+)"),
                             ("tflm_arena_head", r"allocation head (\d+)"),
                             ("tflm_arena_tail", r"allocation tail (\d+)")):
            match = re.search(pattern, text)
            if match:
                figures[key] = int(match.group(1))
        if "tflm_arena_total" not in figures:
            if result.returncode < 0:
                # in a child: TFLM aborts the process (signal 6) on some malformed models
                raise TflmCrashed(f"TFLM aborts (signal {-result.returncode}) preparing this model: it is "
                                  "malformed in a way TFLM does not check (quantization scales or options out of "
                                  "range)", "re-export the model; tinyattend refuses what it cannot verify against TFLM")
            raise BadModelError(f"TFLM cannot allocate this model in {generous} bytes:\n{text[-1500:]}")
        probed = _probe_result(result.stdout)
        if probed is not None:
            figures["tflm_arena_bytes"] = probed
            return figures
        return _probe_arena(path, figures, _resume_size(result.stdout, figures))


def _probe_result(stdout: str) -> int | None:
    ok = [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("OK ")]
    return ok[0] if ok else None


def _resume_size(stdout: str, figures: dict) -> int:
    """Where probing goes on after a child crashed: past the last size it tried, else at the total."""
    tried = [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("FAIL ")]
    return tried[-1] + 16 if tried else (figures["tflm_arena_total"] + 15) // 16 * 16


def _probe_arena(path: Path, figures: dict, size: int) -> dict:
    for _ in range(64):
        result = subprocess.run([sys.executable, "-c", _PROBE_SCRIPT, str(path), str(size)],
                                capture_output=True, text=True, timeout=300)
        lines = [line.split() for line in result.stdout.splitlines() if line.startswith(("OK", "FAIL"))]
        ok = [int(size_) for word, size_ in lines if word == "OK"]
        if ok:
            figures["tflm_arena_bytes"] = ok[0]
            return figures
        size = (int(lines[-1][1]) if lines else size) + 16   # the child crashed: resume past it
    raise BadModelError("TFLM could not be made to allocate this model")


def random_inputs(shape, count: int, seed: int, *, dtype: str = "int8", scale: float | None = None,
                  zero_point: int | None = None) -> np.ndarray:
    """`count` random inputs of `shape`: uniform int8, or for a float32 input uniform floats
    over the range its int8 quantization covers, scale * ([-128, 127] - zero_point)."""
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        low, high = float_input_range(scale, zero_point)
        return rng.uniform(low, high, size=(count, *shape)).astype(np.float32)
    return rng.integers(-128, 128, size=(count, *shape), dtype=np.int64).astype(np.int8)


def float_input_range(scale: float | None, zero_point: int | None) -> tuple[float, float]:
    if scale is None or zero_point is None:
        raise BadModelError("a float32 model input without the int8 quantization its QUANTIZE applies",
                            "regenerate OUT with this version of tinyattend (report.json input.scale)")
    return float(scale) * (-128 - int(zero_point)), float(scale) * (127 - int(zero_point))


def model_inputs(io: dict, count: int, seed: int) -> np.ndarray:
    """Random inputs for report.json's `input` entry (shape, dtype, scale, zero_point)."""
    return random_inputs(tuple(io["shape"]), count, seed, dtype=io.get("dtype", "int8"),
                         scale=io.get("scale"), zero_point=io.get("zero_point"))


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 -> float32 as TFLM's DEQUANTIZE does; quantizing the result gives q back."""
    return (np.float64(np.float32(scale)) * (q.astype(np.float64) - zero_point)).astype(np.float32)


def compare(ours: np.ndarray, reference: np.ndarray) -> dict:
    """Exact comparison, sample by sample (first axis). Float outputs are compared bit for bit;
    their difference in LSB counts float32 units in the last place."""
    ours = ours.reshape(reference.shape)
    axes = tuple(range(1, reference.ndim))
    if reference.dtype.kind == "f":
        ours = ours.astype(reference.dtype)
        a, b = ours.view(np.uint8).reshape(len(reference), -1), reference.view(np.uint8).reshape(len(reference), -1)
        equal = np.all(a == b, axis=1)
        ordered = lambda x: np.where(x < 0, np.int64(-(1 << 31)) - x, x)  # noqa: E731 (float order as ints)
        ulps = np.abs(ordered(ours.view(np.int32).astype(np.int64)) - ordered(reference.view(np.int32).astype(np.int64)))
        with np.errstate(invalid="ignore"):
            diff = np.abs(ours.astype(np.float64) - reference.astype(np.float64))
        return {"samples": int(reference.shape[0]), "identical": int(equal.sum()),
                "max_abs_diff_lsb": int(ulps.max()) if ulps.size else 0,
                "max_abs_diff": float(np.nanmax(diff)) if diff.size else 0.0,
                "first_mismatch": int(np.argmin(equal)) if not equal.all() else None}
    equal = np.all(ours == reference, axis=axes)
    diff = np.abs(ours.astype(np.int32) - reference.astype(np.int32))
    return {"samples": int(reference.shape[0]), "identical": int(equal.sum()),
            "max_abs_diff_lsb": int(diff.max()) if diff.size else 0,
            "first_mismatch": int(np.argmin(equal)) if not equal.all() else None}


def verify_outputs(out: Path, *, samples: int = 100, board: str = "host", seed: int = 0,
                   sanitize: bool = False) -> dict:
    """Run random inputs (and up to `samples` held-out calibration inputs) through the generated C on
    `board` and through the TFLM interpreter (with LiteRT's tables for ops TFLM lacks: reference_outputs);
    compare exactly. Returns {"board", "input_dtype", "output_dtype", "batches": {kind: compare(...)},
    "oracle" (codegen.oracle), "bit_exact", "sanitized"}. `sanitize` builds the host program with AddressSanitizer
    and UBSan (a report from either is a RunError)."""
    from .build.host import build_host, run_host
    out = Path(out)
    from .outdir import read_report
    report = read_report(out)
    input_shape = tuple(report["input"]["shape"])
    output_shape = tuple(report["output"]["shape"])
    input_dtype = report["input"].get("dtype", "int8")
    output_dtype = report["output"].get("dtype", "int8")
    batches = {"random": model_inputs(report["input"], samples, seed)}
    calib_path = out / "calibration_int8.npy"
    if calib_path.is_file():
        try:
            calib = np.load(calib_path, allow_pickle=False)[:samples]
        except (OSError, ValueError) as err:
            raise BadModelError(f"{calib_path} is unreadable ({str(err)[:200]})",
                                "re-run `tinyattend convert` to write OUT again") from None
        if calib.dtype != np.int8 or calib.shape[1:] != input_shape:
            raise BadModelError(f"{calib_path} holds {calib.dtype} {calib.shape[1:]}, not int8 samples of the "
                                f"input shape {input_shape}", "re-run `tinyattend convert` to write OUT again")
        if input_dtype == "float32":   # held-out inputs are stored quantized: give the model their float values
            calib = dequantize(calib, report["input"]["scale"], report["input"]["zero_point"])
        batches["calibration"] = calib
    if board != "host":
        from .boards import load_board
        from .run.runner import model_info, run_on_board
        info, target_board = model_info(out), load_board(board)

        def on_board(x: np.ndarray) -> np.ndarray:
            result, _ = run_on_board(info, target_board, np.ascontiguousarray(x).tobytes())
            if result.status != 0:
                raise RunError(f"the model's invoke returned {result.status} on {target_board.name}")
            return np.frombuffer(result.output, dtype=output_dtype).reshape(output_shape)
    binary = build_host(out, sanitize=sanitize) if board == "host" else None
    results = {}
    oracle = TFLM
    for kind, inputs in batches.items():
        if binary is not None:
            ours = run_host(binary, inputs, inputs[0].nbytes, output_shape, output_dtype=output_dtype)
        else:
            ours = np.stack([on_board(x) for x in inputs])
        reference, oracle = reference_outputs(out / "model.tflite", inputs, isolated=True)
        results[kind] = compare(ours, reference)
    return {"board": board, "input_dtype": input_dtype, "output_dtype": output_dtype, "batches": results,
            "oracle": oracle, "bit_exact": all(r["identical"] == r["samples"] for r in results.values()),
            "sanitized": binary is not None and sanitize}


def format_verify(result: dict) -> str:
    oracle = ORACLE_NAMES[result.get("oracle", TFLM)]
    build = f"{result['board']}, AddressSanitizer + UBSan" if result.get("sanitized") else result["board"]
    lines = [f"verify: generated C ({build}) vs {oracle}, {result['input_dtype']} in, "
             f"{result['output_dtype']} out, exact comparison"]
    for kind, r in result["batches"].items():
        pct = 100.0 * r["identical"] / max(1, r["samples"])
        line = f"  {kind:12s} {r['identical']}/{r['samples']} identical ({pct:.1f}%)"
        if r["identical"] != r["samples"]:
            line += f", max diff {r['max_abs_diff_lsb']} LSB, first mismatch at sample {r['first_mismatch']}"
        lines.append(line)
    lines.append("verify: PASS (bit-exact)" if result["bit_exact"] else f"verify: FAIL (outputs differ from {oracle})")
    return "\n".join(lines)
