"""`tinyattend convert` / `tinyattend.convert`: the whole pipeline for one model, written atomically to OUT.

    model file --convert--> int8 .tflite --ir--> Graph --codegen--> C sources + arena plan
    --build--> host or firmware project files; report.json beside them.
"""
from __future__ import annotations

import json
from dataclasses import replace
import time
from pathlib import Path

import numpy as np

from .boards import Board, load_board
from .codegen.generate import generate
from .codegen.lowering import Target, edge_quant
from .codegen.prefix import DEFAULT_PREFIX
from .errors import DoesNotFitError, ToolchainError
from .guard import stage as guard_stage
from .ir.tflite_reader import read_tflite
from .limits import limits, refuse
from .memory_limit import memory_limit
from .outdir import check_replaceable, staged_output, temporary_work_in
from .progress import SILENT, Progress

LAYER_ERROR_SAMPLES = 16     # held-out samples the per-layer error runs (both models, every tensor kept):
                             # SQNR sums over every element of every sample, and 16 rank layers as 32 do


def check_flash(board: Board, flash_bytes: int) -> None:
    """Refuse constant data that cannot fit the board's flash, with the numbers, before any
    build. (RAM, arena plus stack, is checked by build.firmware.check_fits when the
    firmware project is written.)"""
    if board.is_host or board.flash is None or flash_bytes <= board.flash.length:
        return
    raise DoesNotFitError(f"the model does not fit {board.name}: constant data needs {flash_bytes:,} bytes of "
                          f"flash; {board.name} has {board.flash.length:,}",
                          "choose a board with more flash, or a smaller model (fewer channels or layers)")


def io_entry(graph, index: int) -> dict:
    """report.json's `input` or `output`: shape, dtype (int8 or float32) and the int8
    quantization at that edge (for float32, the one the model's QUANTIZE / DEQUANTIZE applies)."""
    tensor = graph.tensor(index)
    scale, zero_point = edge_quant(graph, index) or (None, None)
    return {"shape": list(tensor.shape), "dtype": tensor.dtype, "scale": scale, "zero_point": zero_point}


def resolve_kernels(kernels: str, board: Board, optimize: str) -> tuple[str, str | None]:
    """What `--kernels auto` runs on this board, and a warning when it could do better.

    On a core with Helium (MVE) auto takes tinyattend's own MVE kernels (`helium`, codegen/helium/;
    the DSP fast kernels for the ops it has none for); CMSIS-NN stays selectable with --kernels
    cmsis-nn. --optimize size keeps the portable kernels everywhere."""
    if kernels != "auto" or optimize == "size" or not board.has_mve:
        return kernels, None
    return "helium", None


def write_project(stage: Path, tflite: bytes, board: Board, *, kernels: str, optimize: str,
                  model_name: str, calibration: np.ndarray | None = None, report: dict | None = None,
                  measure_tflm_arena: bool = True, prefix: str = DEFAULT_PREFIX, progress=None,
                  ram: int | None = None) -> dict:
    """Generate C for `tflite` into `stage` (model/, host/ or firmware/, report.json, README.md).
    `prefix` names the library's symbols and files (codegen.prefix). `ram`: the bytes the arena plus
    the firmware's stack may take (default: the board's RAM; codegen/lean.py). Returns the report."""
    with guard_stage("code generation"):
        return _write_project(stage, tflite, board, kernels=kernels, optimize=optimize, model_name=model_name,
                              calibration=calibration, report=report, measure_tflm_arena=measure_tflm_arena,
                              prefix=prefix, progress=progress, ram=ram)


def arena_limit(board: Board, ram: int | None) -> int | None:
    """The most bytes the arena may take: `ram` (else the board's RAM region) less the firmware's
    stack (build.firmware.check_fits's sum); None for the host without --ram."""
    from .build.firmware import DEFAULT_STACK_SIZE
    if ram is None:
        if board.is_host or board.ram is None:
            return None
        ram = board.ram.length
    return ram - int(board.firmware.get("stack_size", DEFAULT_STACK_SIZE))


def _write_project(stage: Path, tflite: bytes, board: Board, *, kernels: str, optimize: str,
                   model_name: str, calibration, report, measure_tflm_arena: bool, prefix: str, progress,
                   ram: int | None = None) -> dict:
    progress = progress or SILENT
    tflm = None
    if measure_tflm_arena:
        # TFLM's arena is measured in child processes (tinyattend.verify.tflm_arena): they run while
        # this process generates the C. A daemon thread: a failed generation does not wait for it.
        tflm = _Background(tflm_arena_of, tflite)
    with progress.step("generating C"):
        graph = read_tflite(tflite, model_name)
        from .convert.model_stats import model_stats
        refuse(f"{model_name}: one inference", model_stats(tflite)["macs"], "max_macs", " MACs")
        requested = kernels
        kernels, kernel_warning = resolve_kernels(kernels, board, optimize)
        target = Target(board=board, kernels=kernels, optimize=optimize, arena_limit=arena_limit(board, ram),
                        auto_kernels=requested == "auto")
        generated = generate(graph, target, model_name, prefix)
        generated, ceiling_warning = _within_tflm_arena(generated, graph, target, model_name, prefix, tflm)
    model_dir = stage / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    for source in generated.files:
        (model_dir / source.name).write_text(source.text)
    (stage / "model.tflite").write_bytes(tflite)
    const_bytes = sum(t.nbytes for t in graph.tensors if t.is_constant)
    check_flash(board, const_bytes)
    x, y = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    if calibration is not None and calibration.size:
        # Held-out calibration inputs, one per row, each in the model's full input shape.
        samples = calibration.astype(np.int8).reshape((-1, *x.shape))
        np.save(stage / "calibration_int8.npy", samples)
    full = dict(report or {})
    full.update(generated.report)
    full.update({
        "model": model_name,
        "board": board.name,
        "optimize": optimize,
        "ram_budget_bytes": ram,
        "input": io_entry(graph, x.index),
        "output": io_entry(graph, y.index),
        "weight_bytes": full.get("weight_bytes", const_bytes),
        "tflite_bytes": len(tflite),
    })
    full["kernels_requested"] = requested
    from .codegen.oracle import oracle_report
    full["oracle"] = oracle_report(op.type for op in graph.ops)   # what `verify` compares with, per op
    if kernel_warning:
        full.setdefault("warnings", []).append(kernel_warning)
    if ceiling_warning:
        full.setdefault("warnings", []).append(ceiling_warning)
    full.setdefault("params", sum(t.num_elements for t in graph.tensors if t.is_constant))
    full.setdefault("macs", generated.report["generated_macs"])
    from .verify import TflmCrashed
    try:
        if tflm is not None:
            with progress.step("measuring the arena TFLM needs (the rest of it, beside code generation)"):
                full.update(tflm.result())
    except TflmCrashed as err:
        raise TflmCrashed(f"{model_name}: {err.message}", err.fix) from None
    except Exception as err:  # TFLM cannot prepare every model we can; say so, do not fail the convert
        full["tflm_arena_bytes"] = None
        full.setdefault("warnings", []).append(f"TFLM could not allocate this model: {err}")
    with progress.step(f"writing the {'host' if board.is_host else 'firmware'} project"):
        if board.is_host:
            from .build.host import write_host_project
            write_host_project(stage / "host")
        else:
            from .build.firmware import write_firmware_project
            write_firmware_project(stage / "firmware", board, stage / "model")
    write_report(stage, full)
    return full


def write_report(stage: Path, report: dict) -> None:
    """report.json and the README.md that explains the library with this conversion's figures."""
    from .build.readme import render_readme
    (stage / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (stage / "README.md").write_text(render_readme(report, stage))


def tflm_arena_of(tflite: bytes) -> dict:
    from .verify import tflm_arena
    return tflm_arena(tflite)


class _Measurements:
    """The conversion's two error measurements, running while the project is generated."""

    def __init__(self, conversion, warnings_at: int):
        from .convert import in_background

        self.quant = conversion.pending_quantization_error
        self.warnings_at = warnings_at      # where their warnings go: after the conversion's own
        self.layer, self.layer_warning = None, None
        held_out = conversion.held_out_nhwc
        if conversion.float_tflite and held_out is not None and len(held_out):
            self.samples = held_out[:LAYER_ERROR_SAMPLES]
            try:
                from .report.layer_error import layer_errors, layer_interpreters
                # made in this thread: making an interpreter silences the process's output
                interpreters = layer_interpreters(conversion.float_tflite, conversion.tflite)
                self.layer = in_background(layer_errors, conversion.float_tflite, conversion.tflite, self.samples,
                                           interpreters)
            except Exception as err:  # noqa: BLE001 - a diagnostic: never fail the convert over it
                self.layer_warning = _layer_error_warning(err)

    def collect(self, report: dict, progress) -> None:
        """Wait for both; their figures and warnings into `report` (warnings in the order a serial
        conversion gives them: the int8-vs-float error's, then the per-layer error's)."""
        found: list[str] = []
        if self.quant is not None:
            report["quantization_error"], warnings = self.quant.result()     # never raises
            found += warnings
            progress.done("quantization error on held-out samples (beside code generation)", self.quant.seconds,
                          self.quant.cpu_seconds)
        if self.layer is not None:
            try:
                report["layer_errors"] = self.layer.result()
            except Exception as err:  # noqa: BLE001 - a diagnostic: never fail the convert over it
                self.layer_warning = _layer_error_warning(err)
            progress.done(f"per-layer quantization error ({len(self.samples)} samples, beside code generation)",
                          self.layer.seconds, self.layer.cpu_seconds)
        if self.layer_warning:
            found.append(self.layer_warning)
        warnings = report.setdefault("warnings", [])
        warnings[self.warnings_at:self.warnings_at] = found


def _layer_error_warning(err: Exception) -> str:
    return f"per-layer quantization error not measured: {type(err).__name__}: {str(err)[:200]}"


def _within_tflm_arena(generated, graph, target, model_name: str, prefix: str, tflm):
    """Issue 17's RAM ceiling: when the plan's arena is above TFLM's (measured beside generation),
    plan again with it as the arena limit (codegen/lean.py: the lean kernels at the peak). Returns
    (generated, warning or None); a model that cannot get below TFLM keeps its first plan."""
    from .codegen.lean import STACK_ALLOWANCE, tflm_arena_floor, tflm_ceiling
    if tflm is None or generated.plan.size <= tflm_arena_floor(graph) - STACK_ALLOWANCE:
        return generated, None          # below TFLM's for sure: code generation does not wait for the measurement
    try:
        tflm_bytes = tflm.result().get("tflm_arena_bytes")
    except Exception:  # noqa: BLE001 - reported where the measurement is collected
        return generated, None
    limit = tflm_ceiling(target, generated.plan.size, tflm_bytes)
    if limit is None:
        return generated, None
    try:
        return generate(graph, replace(target, arena_limit=limit), model_name, prefix), None
    except DoesNotFitError:
        return generated, (f"the arena ({generated.plan.size:,} B) is above TFLM's ({tflm_bytes:,} B) even with the "
                           "portable kernels where the fast ones' scratch is at its peak")


class _Background:
    """fn(*args) in a daemon thread; result() waits for it and returns its value or raises its error."""

    def __init__(self, fn, *args):
        import threading

        self._value, self._error = None, None

        def run():
            try:
                self._value = fn(*args)
            except BaseException as err:   # noqa: BLE001 - handed to result()
                self._error = err
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def print_summary(report: dict, out: Path) -> None:
    print(f"tinyattend: {report['model']} -> {out} for {report['board']}")
    for key, label in (("params", "parameters"), ("macs", "MACs"), ("weight_bytes", "weight bytes"),
                       ("arena_bytes", "arena bytes (our plan)"), ("tflm_arena_bytes", "arena bytes TFLM needs (host build)")):
        if report.get(key) is not None:
            print(f"  {label:38s} {report[key]:,}")
    histogram: dict[str, int] = {}
    for op in report["ops"]:
        histogram[op] = histogram.get(op, 0) + 1
    print("  ops: " + ", ".join(f"{op} x{n}" for op, n in sorted(histogram.items())))
    q = report.get("quantization_error")
    if q:
        from .convert.quant_error import describe
        print(f"  {describe(q)}")
    layers = report.get("layer_errors")
    if layers:
        from .report.layer_error import worst_layers
        worst = worst_layers(layers)
        if worst:
            print("  layers losing the most SQNR (int8 vs float):")
        for row in worst:
            sqnr = "n/a" if row["sqnr_db"] is None else f"{row['sqnr_db']:.1f} dB"
            print(f"    {row['op']:22s} {row['tensor'][:40]:40s} SQNR {sqnr:>9s}  loss {row['loss_db']:.1f} dB"
                  + ("  FLAGGED" if row.get("flagged") else ""))
    for warning in report.get("warnings", []):
        print(f"  WARNING: {warning}")


ONNX2TF_FIX = ("pip install 'tinyattend[onnx]' && pip install --no-deps onnx2tf==2.6.9 (onnx2tf pins exact, "
               "older numpy/onnx/onnxruntime/LiteRT than tinyattend's, so it is installed without its dependencies; "
               "`make setup` does this in the repository)")


def require_onnx2tf() -> None:
    """ONNX models go through onnx2tf, which the wheel cannot declare (see pyproject.toml): say how to get it."""
    import importlib.util
    missing = [name for name in ("onnx2tf", "sng4onnx", "psutil") if importlib.util.find_spec(name) is None]
    if missing:
        raise ToolchainError(f"converting an ONNX model needs {', '.join(missing)} (not installed)",
                             ONNX2TF_FIX)


def convert_project(model: Path, board: Board, out: Path, *, calib: str | None = None,
                    input_shape: tuple[int, ...] | None = None, mean: tuple[float, ...] | None = None,
                    std: tuple[float, ...] | None = None, layout: str | None = None, calib_samples: int = 200,
                    kernels: str = "auto", optimize: str = "balanced", prefix: str = DEFAULT_PREFIX,
                    model_name: str | None = None, progress=None, frontend: str | None = None,
                    ram: int | None = None) -> dict:
    """Convert `model` (a file or SavedModel directory) and write the project to `out` atomically
    (replacing an OUT tinyattend wrote earlier). Returns report.json's contents."""
    out = Path(out)
    check_replaceable(out)
    from .convert import model_format
    if model_format(Path(model)) == "onnx":
        require_onnx2tf()
    started = time.monotonic()
    progress = Progress("convert", enabled=False) if progress is False else (progress or Progress("convert"))
    with staged_output(out) as stage, temporary_work_in(stage), \
            memory_limit(limits().max_memory_bytes, f"converting {Path(model).name}", staging_dirs=(stage,)):
        report = _convert_into(stage, model, board, calib=calib, input_shape=input_shape, mean=mean, std=std,
                               layout=layout, calib_samples=calib_samples, kernels=kernels, optimize=optimize,
                               prefix=prefix, model_name=model_name, progress=progress, started=started,
                               frontend=frontend, ram=ram)
    progress.note(f"total {report['total_seconds']:.1f} s")
    return report


def _convert_into(stage: Path, model: Path, board: Board, *, calib, input_shape, mean, std, layout, calib_samples,
                  kernels, optimize, prefix, model_name, progress, started: float, frontend=None,
                  ram: int | None = None) -> dict:
    from .convert import convert_model
    conversion = convert_model(Path(model), calib=calib, input_shape=input_shape, mean=mean, std=std,
                               layout=layout, calib_samples=calib_samples, progress=progress,
                               defer_quantization_error=True, frontend=frontend)
    conversion_report = dict(conversion.report)
    conversion_report["warnings"] = list(conversion_report.get("warnings", []))
    # The int8-vs-float error (left running by convert_model) and the per-layer error run in threads
    # beside code generation: their LiteRT invokes and large numpy operations release the GIL.
    measurements = _Measurements(conversion, len(conversion_report["warnings"]))
    report = write_project(stage, conversion.tflite, board, kernels=kernels, optimize=optimize,
                           model_name=model_name or Path(model).name, calibration=conversion.calibration,
                           report=conversion_report, prefix=prefix, progress=progress, ram=ram)
    measurements.collect(report, progress)
    report["total_seconds"] = round(time.monotonic() - started, 2)
    report["stage_seconds"] = progress.timings
    write_report(stage, report)
    return report
