"""`tinyattend bench OUT --board B [--kernels K] [--json]`: build, run once on the board,
and report instructions (QEMU icount) or cycles (DWT) per layer and in total, MACs per
instruction, arena + stack high-water mark, flash, and bit-exactness against TFLM.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..boards import Board, load_board
from ..errors import TinyattendError
from .runner import ModelInfo, model_info, run_on_board

BENCH_SEED = 0


def bench_input(info: ModelInfo, seed: int = BENCH_SEED) -> np.ndarray:
    """The benchmark's input: uniform random int8 of the model's input shape (fixed seed); for a
    float32 input, uniform floats over the range its int8 quantization covers."""
    rng = np.random.default_rng(seed)
    if info.input_dtype == "float32":
        from ..verify import float_input_range
        io = info.report.get("input") or {}
        low, high = float_input_range(io.get("scale"), io.get("zero_point"))
        return rng.uniform(low, high, size=info.input_shape).astype(np.float32)
    return rng.integers(-128, 128, size=info.input_shape, dtype=np.int64).astype(np.int8)


def _variant(info: ModelInfo, board: Board, kernels: str | None) -> ModelInfo:
    """The OUT to run: OUT itself, or OUT/variants/<board>-<kernels> regenerated from
    OUT/model.tflite when another board or kernel set is asked for."""
    kernels = kernels or info.report.get("kernels", "portable")
    if board.name == info.report.get("board") and kernels == info.report.get("kernels", "portable"):
        return info
    tflite = info.out_dir / "model.tflite"
    if not tflite.is_file():
        return info
    from ..pipeline import write_project
    stage = info.out_dir / "variants" / f"{board.name}-{kernels}"
    stage.mkdir(parents=True, exist_ok=True)
    write_project(stage, tflite.read_bytes(), board, kernels=kernels,
                  optimize=info.report.get("optimize", "balanced"), model_name=info.report.get("model", "model"),
                  prefix=info.report.get("prefix", "ta"))
    return model_info(stage)


def bench(out_dir: Path, board: Board, *, kernels: str | None = None, timeout: float = 120.0,
          transport: str | None = None, port: str | None = None) -> dict:
    """Run the benchmark; returns the JSON-ready result (see module docstring)."""
    info = _variant(model_info(out_dir), board, kernels)
    x = bench_input(info)
    result, build = run_on_board(info, board, x.tobytes(), transport=transport, timeout=timeout, port=port)
    ours = np.frombuffer(result.output, dtype=info.output_dtype)
    bit_exact, reference_error, oracle = False, None, None
    tflite = info.out_dir / "model.tflite"
    if tflite.is_file():
        try:
            from ..verify import reference_outputs
            reference, oracle = reference_outputs(tflite, x[None], isolated=True)
            reference = reference[0]
            # Raw bytes: float outputs must match bit for bit (-0.0 is not 0.0, a NaN is its bits).
            expected = np.ascontiguousarray(reference.reshape(-1).astype(info.output_dtype))
            bit_exact = bool(np.array_equal(ours.view(np.uint8), expected.view(np.uint8)))
        except (TinyattendError, ImportError, RuntimeError) as err:
            reference_error = str(err)
    else:
        reference_error = f"{tflite} is missing: no TFLM reference to compare with"
    macs = info.report.get("macs")
    total = result.total
    layers = [{"index": l.index, "op": l.op, "instructions": result.count(l.ticks)} for l in result.layers]
    report = {
        "board": board.name,
        "cpu": board.cpu,
        "emulated": result.emulated,
        "count_unit": result.count_unit,
        "kernels": info.report.get("kernels", kernels or "portable"),
        "model": info.report.get("model"),
        "instructions": total,
        "cycles": None if result.emulated else total,
        "macs": macs,
        "macs_per_instruction": round(macs / total, 4) if macs and total else None,
        "arena_bytes": result.arena_bytes,
        "stack_bytes": result.stack_bytes,
        "peak_ram_bytes": result.arena_bytes + result.stack_bytes,
        "flash_bytes": build.flash_bytes,
        "text_bytes": build.text,
        "data_bytes": build.data,
        "bss_bytes": build.bss,
        "weights_bytes": info.report.get("weight_bytes", info.report.get("weights_bytes")),
        "bit_exact": bit_exact,
        "oracle": oracle,     # codegen/oracle.py: tflm, or tflm+litert-builtin-ref-tables for ops TFLM lacks
        "input_seed": BENCH_SEED,
        "layers": layers,
    }
    if reference_error:
        report["bit_exact_error"] = reference_error
    return report


def format_table(r: dict) -> str:
    unit = r["count_unit"]
    per = "MACs/instruction" if r["emulated"] else "MACs/cycle"
    lines = [f"{r['model'] or 'model'} on {r['board']} ({r['cpu']}), kernels {r['kernels']}; counts are {unit}",
             "", f"  {'#':>3}  {'op':24s} {'count':>14}  {'share':>6}"]
    for layer in r["layers"]:
        share = 100.0 * layer["instructions"] / r["instructions"] if r["instructions"] else 0.0
        lines.append(f"  {layer['index']:>3}  {layer['op']:24s} {layer['instructions']:>14,}  {share:5.1f}%")
    rows = [
        ("total, one inference", f"{r['instructions']:,} {unit}"),
        (per, f"{r['macs_per_instruction']}" if r["macs_per_instruction"] is not None else "n/a"),
        ("peak RAM", f"{r['peak_ram_bytes']:,} B (arena {r['arena_bytes']:,} + stack high-water {r['stack_bytes']:,})"),
        ("flash", f"{r['flash_bytes']:,} B (text {r['text_bytes']:,} + data {r['data_bytes']:,}; "
                  f"weights {r['weights_bytes'] or 0:,})"),
        ("output = TFLM (+LiteRT tables), bit for bit" if r.get("oracle") == "tflm+litert-builtin-ref-tables"
         else "output = TFLM, bit for bit", "yes" if r["bit_exact"] else f"NO{': ' + r['bit_exact_error'] if r.get('bit_exact_error') else ''}"),
    ]
    lines.append("")
    lines += [f"  {label:28s} {value}" for label, value in rows]
    return "\n".join(lines)
