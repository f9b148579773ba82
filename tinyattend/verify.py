"""Bit-exactness against TensorFlow Lite Micro, the oracle for every int8 kernel.

`tflm_reference` runs the TFLM Python interpreter (PyPI `tflite-micro`) on the
same .tflite; `verify_command` compares it with the generated C, byte for byte.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import BadModelError, RunError

DEFAULT_TFLM_ARENA = 4 * 1024 * 1024


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


_PROBE_SCRIPT = r"""
import sys
from tflite_micro.python.tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
size = int(sys.argv[2])
for _ in range(4096):
    try:
        runtime.Interpreter.from_bytes(model, arena_size=size)
        print("OK", size, flush=True)
        break
    except RuntimeError:
        print("FAIL", size, flush=True)
        size += 16
"""


def tflm_arena(model: bytes) -> dict:
    """The smallest arena TFLM (host build, 64-bit) allocates this model in, and its
    allocation report (head = activations, tail = persistent data).

    TFLM's host build can corrupt its own memory when an arena is too small (its
    "available" count underflows), so the probing runs in a child process: it
    starts at the reported total and walks up in 16-byte steps (prepare needs a
    little temporary memory beyond the total), restarting past a size that crashed.
    """
    generous = max(DEFAULT_TFLM_ARENA, 8 * len(model))
    with _captured_c_output() as log:
        try:
            interpreter = _interpreter(model, generous)
            interpreter.print_allocations()
            del interpreter
        except RuntimeError:
            pass
    figures = {}
    for key, pattern in (("tflm_arena_total", r"allocation total (\d+)"), ("tflm_arena_head", r"allocation head (\d+)"),
                         ("tflm_arena_tail", r"allocation tail (\d+)")):
        match = re.search(pattern, log["text"])
        if match:
            figures[key] = int(match.group(1))
    if "tflm_arena_total" not in figures:
        raise BadModelError(f"TFLM cannot allocate this model in {generous} bytes:\n{log['text'][-1500:]}")
    size = (figures["tflm_arena_total"] + 15) // 16 * 16
    with tempfile.TemporaryDirectory(prefix="tinyattend-tflm-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
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


def random_inputs(shape, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(count, *shape), dtype=np.int64).astype(np.int8)


def compare(ours: np.ndarray, reference: np.ndarray) -> dict:
    ours = ours.reshape(reference.shape)
    equal = np.all(ours == reference, axis=tuple(range(1, reference.ndim)))
    diff = np.abs(ours.astype(np.int32) - reference.astype(np.int32))
    return {"samples": int(reference.shape[0]), "identical": int(equal.sum()),
            "max_abs_diff_lsb": int(diff.max()) if diff.size else 0,
            "first_mismatch": int(np.argmin(equal)) if not equal.all() else None}


def verify_command(args) -> int:
    from .build.host import build_host, run_host
    out = Path(args.out)
    report_path = out / "report.json"
    if not report_path.is_file():
        raise BadModelError(f"{out} has no report.json", f"run `tinyattend convert MODEL --board host -o {out}` first")
    report = json.loads(report_path.read_text())
    input_shape = tuple(report["input"]["shape"])
    output_shape = tuple(report["output"]["shape"])
    batches = {"random": random_inputs(input_shape, args.samples, args.seed)}
    calib_path = out / "calibration_int8.npy"
    if calib_path.is_file():
        calib = np.load(calib_path)
        batches["calibration"] = calib[: args.samples]
    if args.board != "host":
        from .run.runner import run_on_board
    binary = build_host(out) if args.board == "host" else None
    all_ok = True
    print(f"verify: generated C ({args.board}) vs TFLM interpreter, int8, exact comparison")
    for kind, inputs in batches.items():
        if binary is not None:
            ours = run_host(binary, inputs, int(np.prod(input_shape)), output_shape)
        else:
            ours = np.stack([run_on_board(out, args.board, x) for x in inputs])
        reference = tflm_reference(out / "model.tflite", inputs)
        result = compare(ours, reference)
        ok = result["identical"] == result["samples"]
        all_ok &= ok
        pct = 100.0 * result["identical"] / max(1, result["samples"])
        line = f"  {kind:12s} {result['identical']}/{result['samples']} identical ({pct:.1f}%)"
        if not ok:
            line += f", max diff {result['max_abs_diff_lsb']} LSB, first mismatch at sample {result['first_mismatch']}"
        print(line)
    print("verify: PASS (bit-exact)" if all_ok else "verify: FAIL (outputs differ from TFLM)")
    return 0 if all_ok else 1
