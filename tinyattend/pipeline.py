"""`tinyattend convert`: the whole pipeline for one model, written atomically to OUT.

    model file --convert--> int8 .tflite --ir--> Graph --codegen--> C sources + arena plan
    --build--> host or firmware project files; report.json beside them.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .boards import Board, load_board
from .build.cmsis_nn import cmsis_nn_root
from .codegen.generate import generate
from .codegen.lowering import Target, edge_quant
from .errors import DoesNotFitError
from .guard import stage as guard_stage
from .limits import refuse
from .ir.tflite_reader import read_tflite
from .outdir import check_replaceable, staged_output


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

    On a core with Helium (MVE) CMSIS-NN's MVE kernels take 1.2-2.7x fewer instructions than our
    DSP-only fast set (make bench, Cortex-M55), so auto takes cmsis-nn there when CMSIS-NN is at
    hand (CMSIS_NN_PATH). --optimize size keeps the portable kernels everywhere."""
    if kernels != "auto" or optimize == "size" or not board.has_mve:
        return kernels, None
    if cmsis_nn_root(required=False) is not None:
        return "cmsis-nn", None
    return kernels, ("this core has Helium (MVE), where CMSIS-NN's kernels are faster than tinyattend's "
                     "DSP kernels: set CMSIS_NN_PATH to a CMSIS-NN v7.0.0 tree and convert again for --kernels "
                     "auto to use them")


def write_project(stage: Path, tflite: bytes, board: Board, *, kernels: str, optimize: str,
                  model_name: str, calibration: np.ndarray | None = None, report: dict | None = None,
                  measure_tflm_arena: bool = True) -> dict:
    """Generate C for `tflite` into `stage` (model/, host/ or firmware/, report.json). Returns the report."""
    with guard_stage("code generation"):
        return _write_project(stage, tflite, board, kernels=kernels, optimize=optimize, model_name=model_name,
                              calibration=calibration, report=report, measure_tflm_arena=measure_tflm_arena)


def _write_project(stage: Path, tflite: bytes, board: Board, *, kernels: str, optimize: str,
                   model_name: str, calibration, report, measure_tflm_arena: bool) -> dict:
    graph = read_tflite(tflite, model_name)
    from .convert.model_stats import model_stats
    refuse(f"{model_name}: one inference", model_stats(tflite)["macs"], "max_macs", " MACs")
    requested = kernels
    kernels, kernel_warning = resolve_kernels(kernels, board, optimize)
    target = Target(board=board, kernels=kernels, optimize=optimize)
    generated = generate(graph, target, model_name)
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
        "input": io_entry(graph, x.index),
        "output": io_entry(graph, y.index),
        "weight_bytes": full.get("weight_bytes", const_bytes),
        "tflite_bytes": len(tflite),
    })
    full["kernels_requested"] = requested
    if kernel_warning:
        full.setdefault("warnings", []).append(kernel_warning)
    full.setdefault("params", sum(t.num_elements for t in graph.tensors if t.is_constant))
    full.setdefault("macs", generated.report["generated_macs"])
    from .verify import TflmCrashed
    try:
        if measure_tflm_arena:
            from .verify import tflm_arena
            full.update(tflm_arena(tflite))
    except TflmCrashed as err:
        raise TflmCrashed(f"{model_name}: {err.message}", err.fix) from None
    except Exception as err:  # TFLM cannot prepare every model we can; say so, do not fail the convert
        full["tflm_arena_bytes"] = None
        full.setdefault("warnings", []).append(f"TFLM could not allocate this model: {err}")
    if board.is_host:
        from .build.host import write_host_project
        write_host_project(stage / "host")
    else:
        from .build.firmware import write_firmware_project
        write_firmware_project(stage / "firmware", board, stage / "model")
    (stage / "report.json").write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return full


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
        print(f"  int8 vs float on {q['samples']} held-out samples: top-1 agreement {100 * q['top1_agreement']:.1f}%, "
              f"max |err| {q['max_abs_error']:.4g}, mean |err| {q['mean_abs_error']:.4g}")
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


def convert_command(args) -> int:
    board = load_board(args.board)
    out = Path(args.out)
    check_replaceable(out)
    from .convert import convert_model
    started = time.monotonic()
    conversion = convert_model(Path(args.model), calib=args.calib, input_shape=args.input_shape,
                               mean=args.mean, std=args.std, layout=args.layout,
                               calib_samples=args.calib_samples)
    conversion_report = dict(conversion.report)
    held_out = getattr(conversion, "held_out_nhwc", None)
    if getattr(conversion, "float_tflite", None) and held_out is not None and len(held_out):
        conversion_report["warnings"] = list(conversion_report.get("warnings", []))
        try:
            from .report.layer_error import layer_errors
            conversion_report["layer_errors"] = layer_errors(conversion.float_tflite, conversion.tflite,
                                                             held_out[:32])
        except Exception as err:  # noqa: BLE001 - a diagnostic: never fail the convert over it
            conversion_report["warnings"].append(
                f"per-layer quantization error not measured: {type(err).__name__}: {str(err)[:200]}")
    with staged_output(out) as stage:
        report = write_project(stage, conversion.tflite, board, kernels=args.kernels, optimize=args.optimize,
                               model_name=Path(args.model).name, calibration=conversion.calibration,
                               report=conversion_report)
        report["total_seconds"] = round(time.monotonic() - started, 2)
        (stage / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print_summary(report, out)
    return 0
