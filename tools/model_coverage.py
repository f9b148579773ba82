"""`make coverage`: today's mobile architectures through the whole pipeline, one table.

Each model (torchvision, timm or our zoo; random initialisation, nothing downloaded) is exported to ONNX
(opset 17, 1x3xSxS, S = 96 unless the model needs another size), then run exactly as a user would:

    tinyattend convert model.onnx --board cortex-m7 -o OUT          (noise calibration)
    tinyattend verify OUT --samples N                               (generated C on the host vs the oracle)
    tinyattend bench OUT --board cortex-m7 --json                   (QEMU -icount shift=0: instructions, not cycles)

Models whose int8 weights exceed the M7 profile's 4 MB are converted for `cortex-m7-psram` instead (the same
emulated M7 with code and weights in its 16 MB PSRAM; QEMU's counts do not depend on where code runs).
Every model runs in its own processes with time limits, so one failure or hang costs only its row.
Writes OUT_DIR/coverage.json and OUT_DIR/coverage.md.

    python tools/model_coverage.py [-o coverage-out] [--models a,b] [--samples 10] [--size 96]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

TINYATTEND = [sys.executable, "-c", "import sys; from tinyattend.cli import main; sys.exit(main())"]
M7_WEIGHT_LIMIT = 3_900_000      # int8 weight bytes that leave room for code in the M7 profile's 4 MB
PSRAM_WEIGHT_LIMIT = 16_000_000  # more than the PSRAM board's 16 MB holds with its code


@dataclass(frozen=True)
class Spec:
    name: str
    source: str                  # torchvision | timm | zoo
    builder: str                 # the constructor's name in that source
    size: int = 96
    kwargs: tuple = ()           # extra constructor arguments, as (key, value) pairs


def _img(size: int) -> tuple:
    return (("img_size", size),)


MODELS = (
    Spec("mobilenet_v2", "torchvision", "mobilenet_v2"),
    Spec("mobilenet_v3_small", "torchvision", "mobilenet_v3_small"),
    Spec("mobilenet_v3_large", "torchvision", "mobilenet_v3_large"),
    Spec("mnasnet0_5", "torchvision", "mnasnet0_5"),
    Spec("shufflenet_v2_x0_5", "torchvision", "shufflenet_v2_x0_5"),
    Spec("squeezenet1_1", "torchvision", "squeezenet1_1"),
    Spec("efficientnet_b0", "torchvision", "efficientnet_b0"),
    Spec("resnet18", "torchvision", "resnet18"),
    Spec("regnet_x_400mf", "torchvision", "regnet_x_400mf"),
    Spec("mobilevit_xxs", "timm", "mobilevit_xxs"),
    Spec("mobilevitv2_050", "timm", "mobilevitv2_050"),
    Spec("convnext_atto", "timm", "convnext_atto"),
    Spec("efficientformerv2_s0", "timm", "efficientformerv2_s0", kwargs=_img(96)),
    Spec("fastvit_t8", "timm", "fastvit_t8"),
    Spec("edgenext_xx_small", "timm", "edgenext_xx_small"),
    Spec("levit_128s", "timm", "levit_128s", kwargs=_img(96)),
    Spec("repvit_m0_9", "timm", "repvit_m0_9"),
    Spec("ghostnet_100", "timm", "ghostnet_100"),
    Spec("lcnet_050", "timm", "lcnet_050"),
    Spec("mobileone_s0", "timm", "mobileone_s0"),
    Spec("fbnetc_100", "timm", "fbnetc_100"),
    Spec("tinynet_e", "timm", "tinynet_e"),
    Spec("efficientvit_m0", "timm", "efficientvit_m0", kwargs=_img(96)),
    Spec("lowformer-b0", "zoo", "lowformer-b0"),
    Spec("lowformer-b1", "zoo", "lowformer-b1"),
    Spec("lowformer-b1.5", "zoo", "lowformer-b1.5"),
    Spec("lowformer-b3", "zoo", "lowformer-b3"),
    Spec("attendnext", "zoo", "attendnext"),
    Spec("attendnets", "zoo", "attendnets"),
)


@dataclass
class Row:
    name: str
    source: str
    size: int
    params: int | None = None
    macs: int | None = None
    convert_seconds: float | None = None
    sqnr_db: float | None = None
    error_over_range: float | None = None
    oracle: str | None = None
    host_bit_exact: bool | None = None
    board: str | None = None
    m7_instructions: int | None = None
    m7_peak_ram: int | None = None
    m7_bit_exact: bool | None = None
    failed_at: str | None = None
    error: str | None = None
    seconds: dict = field(default_factory=dict)


def build_model(spec: Spec):
    """The float PyTorch model of `spec`, eval mode, random initialisation, batch norms recalibrated."""
    import torch

    torch.manual_seed(0)
    kwargs = dict(spec.kwargs)
    if spec.source == "torchvision":
        import torchvision
        model = getattr(torchvision.models, spec.builder)(weights=None, **kwargs)
    elif spec.source == "timm":
        import timm
        model = timm.create_model(spec.builder, pretrained=False, **kwargs)
    else:
        from tinyattend.zoo.registry import get_entry
        model = get_entry(spec.builder).build(**kwargs)
    return recalibrate_batch_norms(model, spec.size).eval()


def recalibrate_batch_norms(model, size: int, batches: int = 4):
    """Set every batch norm's running statistics from noise passed through the network.

    With freshly initialised statistics (mean 0, variance 1) the activations of deep random networks
    shrink layer by layer: torchvision's MobileNetV2 ends with logits of 1e-9, EfficientNet-B0 of 1e-14,
    and an int8-vs-float error on those says nothing. A trained network's batch norms keep activations
    near unit scale; recomputing the statistics on the input distribution gives a random network that
    property, so the SQNR column measures quantization, not a vanished signal.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None                     # cumulative average over the batches below
    model.train()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(8, 3, size, size, generator=generator))
    return model


def export(spec: Spec, path: Path) -> int:
    """Write `spec` as ONNX (opset 17) to `path`; returns its parameter count."""
    import torch

    model = build_model(spec)
    params = sum(p.numel() for p in model.parameters())
    if spec.source == "zoo":
        from tinyattend.zoo.export import export_model
        export_model(model, path, spec.size, opset=17)
        return params
    dummy = torch.zeros(1, 3, spec.size, spec.size)
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), str(path), opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["logits"], do_constant_folding=True)
    return params


def _run(cmd: list[str], timeout: float) -> tuple[int, str, float]:
    start = time.monotonic()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout + done.stderr, time.monotonic() - start
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s", time.monotonic() - start


def _first_error(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("error:"):
            return line[6:].strip()[:300]
    return (lines[-1] if lines else "no output")[:300]


def measure(spec: Spec, work: Path, samples: int) -> Row:
    row = Row(spec.name, spec.source, spec.size)
    work.mkdir(parents=True, exist_ok=True)
    onnx_path, out = work / f"{spec.name}.onnx", work / "out"
    code, log, seconds = _run([sys.executable, __file__, "--export-one", spec.name, "--size", str(spec.size),
                               "--to", str(onnx_path)], timeout=900)
    row.seconds["export"] = round(seconds, 1)
    if code != 0:
        row.failed_at, row.error = "export", _first_error(log)
        return row
    row.params = next(json.loads(line)["params"] for line in log.splitlines() if line.startswith('{"params"'))
    board = "cortex-m7" if row.params < M7_WEIGHT_LIMIT else "cortex-m7-psram"
    if row.params > PSRAM_WEIGHT_LIMIT:          # no emulated M7 holds it: straight to the host
        row = _convert_and_run(row, onnx_path, out, "host", samples)
        if row.failed_at is None:
            row.failed_at, row.error = "M7", f"{row.params / 1e6:.1f}M int8 weights: more than any emulated M7 board holds"
        return row
    row = _convert_and_run(row, onnx_path, out, board, samples)
    if row.board == "cortex-m7" and row.failed_at == "bench" and "does not fit" in (row.error or ""):
        # weights just under the limit, plus the fast kernels' re-laid-out constants and the code
        row = _convert_and_run(replace(row, failed_at=None, error=None), onnx_path, out, "cortex-m7-psram", samples)
    if row.board == "cortex-m7-psram" and row.failed_at == "convert" and "does not fit" in (row.error or ""):
        # more weights than any emulated M7 board holds (and any M7 microcontroller): the host only
        why = row.error
        row = _convert_and_run(replace(row, failed_at=None, error=None), onnx_path, out, "host", samples)
        if row.failed_at is None:
            row.failed_at, row.error = "M7", why
    return row


def _convert_and_run(row: Row, onnx_path: Path, out: Path, board: str, samples: int) -> Row:
    row.board = board
    code, log, seconds = _run([*TINYATTEND, "convert", str(onnx_path), "--board", board, "-o", str(out)], 1800)
    row.convert_seconds = round(seconds, 1)
    if code != 0:
        row.failed_at, row.error = "convert", _first_error(log)
        return row
    report = json.loads((out / "report.json").read_text())
    row.macs = report.get("macs")
    error = report.get("quantization_error") or {}
    row.sqnr_db = error.get("sqnr_db")
    span = error.get("output_range")
    if span and error.get("max_abs_error") is not None and span[1] > span[0]:
        row.error_over_range = round(error["max_abs_error"] / (span[1] - span[0]), 4)
    oracle = report.get("oracle") or {}
    litert = sorted(op for op, who in (oracle.get("ops") or {}).items() if who != "tflm")
    # TFLM, or TFLM with these ops checked against LiteRT's reference kernels (TFLM has none for them)
    row.oracle = "TFLM" if not litert else "TFLM + LiteRT ref: " + ", ".join(litert)
    code, log, seconds = _run([*TINYATTEND, "verify", str(out), "--samples", str(samples)], 1800)
    row.seconds["verify"] = round(seconds, 1)
    row.host_bit_exact = code == 0 and "PASS" in log
    if not row.host_bit_exact:
        row.failed_at, row.error = "verify", _first_error(log)
    if board == "host":
        return row
    code, log, seconds = _run([*TINYATTEND, "bench", str(out), "--board", board, "--json", "--timeout", "1500"], 1800)
    row.seconds["bench"] = round(seconds, 1)
    if code != 0:
        row.failed_at, row.error = row.failed_at or "bench", row.error or _first_error(log)
        return row
    bench = json.loads(log[log.index("{"):log.rindex("}") + 1])
    row.m7_instructions = bench.get("instructions")
    row.m7_peak_ram = bench.get("peak_ram_bytes") or bench.get("peak_ram")
    row.m7_bit_exact = bench.get("bit_exact", bench.get("output_matches"))
    return row


def _row_from_json(entry: dict) -> Row:
    row = Row(**{k: v for k, v in entry.items() if k in Row.__dataclass_fields__})
    if isinstance(row.oracle, dict):                  # written before the oracle column
        litert = sorted(op for op, who in (row.oracle.get("ops") or {}).items() if who != "tflm")
        row.oracle = "TFLM" if not litert else "TFLM + LiteRT ref: " + ", ".join(litert)
    return row


def _fmt(value, kind: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if kind == "M":
        return f"{value / 1e6:.2f}M"
    if kind == "K":
        return f"{value / 1024:.0f} KB"
    return str(value)


def markdown(rows: list[Row]) -> str:
    head = ("| model | source | input | params | MACs | convert s | SQNR dB | max err / range | host bit-exact "
            "| M7 instructions | M7 peak RAM | M7 bit-exact | oracle | fails at |\n|" + "---|" * 14)
    lines = [head]
    for r in rows:
        fails = f"{r.failed_at}: {r.error}" if r.failed_at else ""
        board = " (PSRAM)" if r.board == "cortex-m7-psram" else ""
        lines.append(f"| {r.name} | {r.source} | {r.size} | {_fmt(r.params, 'M')} | {_fmt(r.macs, 'M')} | "
                     f"{_fmt(r.convert_seconds)} | {_fmt(r.sqnr_db)} | {_fmt(r.error_over_range)} | "
                     f"{_fmt(r.host_bit_exact)} | {_fmt(r.m7_instructions, 'M')}{board} | {_fmt(r.m7_peak_ram, 'K')} | "
                     f"{_fmt(r.m7_bit_exact)} | {r.oracle or '-'} | {fails.replace('|', '/')} |")
    done = sum(1 for r in rows if r.host_bit_exact and r.m7_bit_exact)
    lines.append(f"\n{done} of {len(rows)} models convert and run bit-exact on the host and the emulated M7. "
                 "Instructions are QEMU `-icount shift=0` counts (not cycles). Models have random weights, their "
                 "batch-norm statistics recomputed on noise (`recalibrate_batch_norms`); calibration is noise.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("coverage-out"))
    parser.add_argument("--models", help="comma-separated subset of: " + ", ".join(s.name for s in MODELS))
    parser.add_argument("--samples", type=int, default=10, help="verify samples per model (default 10)")
    parser.add_argument("--size", type=int, help="override every model's input size")
    parser.add_argument("--table", nargs="+", type=Path, metavar="JSON",
                        help="only write the table of earlier runs' coverage.json files (a later file's row replaces an earlier one's)")
    parser.add_argument("--export-one", help=argparse.SUPPRESS)
    parser.add_argument("--to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    specs = {s.name: s for s in MODELS}
    if args.export_one:
        spec = specs[args.export_one]
        spec = Spec(spec.name, spec.source, spec.builder, args.size or spec.size, spec.kwargs)
        print(json.dumps({"params": export(spec, args.to)}))
        return 0
    if args.table:
        # a model in several runs: the last file's row; rows in the list's order
        latest = {row.name: row for path in args.table for row in map(_row_from_json, json.loads(path.read_text()))}
        order = {spec.name: i for i, spec in enumerate(MODELS)}
        rows = sorted(latest.values(), key=lambda r: order.get(r.name, len(order)))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "coverage.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
        (args.out / "coverage.md").write_text(markdown(rows))
        print(markdown(rows))
        return 0
    names = args.models.split(",") if args.models else list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; known: {', '.join(specs)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, name in enumerate(names, 1):
        spec = specs[name]
        if args.size:
            spec = Spec(spec.name, spec.source, spec.builder, args.size,
                        tuple((k, args.size if k == "img_size" else v) for k, v in spec.kwargs))
        print(f"[coverage {i}/{len(names)}] {name} ...", flush=True)
        row = measure(spec, args.out / "work" / name, args.samples)
        rows.append(row)
        state = (f"failed at {row.failed_at}: {row.error}" if row.failed_at
                 else f"ok: convert {row.convert_seconds} s, M7 {_fmt(row.m7_instructions, 'M')} instructions")
        print(f"[coverage {i}/{len(names)}] {name}: {state}", flush=True)
        (args.out / "coverage.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
        (args.out / "coverage.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
