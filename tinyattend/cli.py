"""Command line: argument parsing only. Each verb calls one stage function.

The verbs convert, bench, verify and inspect call the Python API (tinyattend.api) and print what it
returns. User errors (TinyattendError) print their message and fix, no traceback, and exit non-zero:
`main` handles them in one place.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

KERNEL_SETS = ("portable", "fast", "helium", "cmsis-nn", "auto")
OPTIMIZE_GOALS = ("speed", "size", "balanced")


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a shape; write e.g. 1,3,224,224") from None
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"'{text}': every dimension must be a positive integer")
    return dims


def _bytes(text: str) -> int:
    """A byte count: 131072, 128K or 1M (K = 1024)."""
    units = {"K": 1024, "M": 1024 * 1024}
    body, unit = (text[:-1], units[text[-1].upper()]) if text and text[-1].upper() in units else (text, 1)
    try:
        value = int(body) * unit
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a byte count; write e.g. 262144, 256K or 1M")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"'{text}' is not a count from 1 to 1000000")
    return value


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of numbers") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinyattend", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true",
                        help="show the full Python traceback of an error (anywhere on the command line)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"tinyattend {__version__}")

    p = verbs.add_parser("convert", help="ONNX/Keras/TFLite model -> int8 TFLite + generated C project")
    p.add_argument("model", type=Path, help=".onnx, .tflite (full int8), .keras/.h5 or a SavedModel directory")
    p.add_argument("--board", required=True, help="board profile name (see boards/) or a profile .yaml")
    p.add_argument("-o", "--out", required=True, type=Path, help="output directory (created; replaced if tinyattend made it)")
    p.add_argument("--calib", help="calibration data: .npy/.npz array, or a folder of images")
    p.add_argument("--input-shape", type=_shape, help="input shape for models with dynamic dimensions, e.g. 1,3,96,96")
    p.add_argument("--mean", type=_floats, help="per-channel mean subtracted from image calibration data (0..255 scale), e.g. 123.7,116.3,103.5")
    p.add_argument("--std", type=_floats, help="per-channel std dividing image calibration data (0..255 scale), e.g. 58.4,57.1,57.4")
    p.add_argument("--layout", choices=("nchw", "nhwc"), help="layout of .npy calibration arrays (default: the model's input layout)")
    p.add_argument("--calib-samples", type=_count, default=200, help="at most this many calibration samples (default 200)")
    p.add_argument("--frontend", choices=("auto", "direct", "tensorflow"), default=None,
                   help="ONNX only: auto (default; $TINYATTEND_ONNX_FRONTEND): onnx2tf's direct TFLite writer without "
                        "TensorFlow, else onnx2tf's TensorFlow path; direct or tensorflow: that path only"),
    p.add_argument("--kernels", choices=KERNEL_SETS, default="auto",
                   help="auto (default): the fastest bit-exact kernels for the board: fast; helium (our MVE "
                        "kernels) on Helium cores; portable with --optimize size")
    p.add_argument("--optimize", choices=OPTIMIZE_GOALS, default="balanced",
                   help="what --kernels auto trades: size (portable kernels: least flash and RAM), balanced "
                        "(default: fast kernels within the flash and RAM of TFLM + CMSIS-NN) or speed")
    p.add_argument("--ram", type=_bytes, default=None,
                   help="bytes of RAM for the arena plus the stack (e.g. 256K; default: the board's RAM): the "
                        "fastest plan that fits (lean kernels where the fast ones' scratch is at the peak), else an error")
    p.add_argument("--prefix", default="ta", help="prefix of the library's C names and files (default ta): "
                   "--prefix kws gives kws_model.h, kws_invoke, KWS_ARENA_SIZE, so models link side by side")

    p = verbs.add_parser("run", help="build and run a converted model once on a board")
    p.add_argument("out", type=Path, help="directory written by `tinyattend convert`")
    p.add_argument("--board", required=True)
    p.add_argument("--input", required=True, type=Path, help="int8 .npy with the model's input shape")
    p.add_argument("--output", required=True, type=Path, help="where to write the int8 output .npy")
    p.add_argument("--kernels", choices=KERNEL_SETS)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is declared hung")

    p = verbs.add_parser("verify", help="compare generated code with the TFLM interpreter, bit for bit")
    p.add_argument("out", type=Path)
    p.add_argument("--samples", type=_count, default=100, help="random inputs (and as many calibration inputs when available)")
    p.add_argument("--board", default="host")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sanitize", action="store_true",
                   help="build the host program with AddressSanitizer and UBSan (host only; slower)")

    p = verbs.add_parser("bench", help="build and run on a board; instructions, memory, flash, bit-exactness")
    p.add_argument("out", type=Path)
    p.add_argument("--board", required=True)
    p.add_argument("--kernels", choices=KERNEL_SETS)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is declared hung")

    p = verbs.add_parser("inspect", help="ops, shapes, quantization, MACs and kernel support of a model")
    p.add_argument("model", type=Path)

    p = verbs.add_parser("report", help="HTML report with plots from OUT/report.json and the last bench")
    p.add_argument("out", type=Path)

    p = verbs.add_parser("zoo", help="the model zoo: list, export")
    zoo = p.add_subparsers(dest="zoo_verb", required=True, metavar="ZOO_VERB")
    zoo.add_parser("list", help="table of zoo models")
    z = zoo.add_parser("export", help="export a zoo model to ONNX")
    z.add_argument("name")
    z.add_argument("-o", "--out", required=True, type=Path)
    z.add_argument("--weights", type=Path)
    z.add_argument("--input-size", type=int, help="square input side (default: the model's own)")

    p = verbs.add_parser("demo", help="the README demo: bundled AttendNeXt digits model on the emulated Cortex-M7")
    p.add_argument("-o", "--out", type=Path, default=Path("demo-out"))
    p.add_argument("--board", default="cortex-m7")

    p = verbs.add_parser("bench-all", help="benchmark tables for MLPerf Tiny and zoo models (make bench)")
    p.add_argument("-o", "--out", type=Path, default=Path("bench-out"))
    p.add_argument("--boards", type=_names, help="only these boards (comma-separated); rows for others are kept")
    p.add_argument("--kernel-sets", type=_names, help="only these kernel sets, e.g. fast,auto; rows for others are kept")
    p.add_argument("--models", type=_names, help="only these models; rows for others are kept")

    p = verbs.add_parser("search", help="machine-driven design exploration: the best attention-condenser network "
                                        "for your data on your board (Optuna + Ray)")
    from .search.cli import add_search_arguments
    add_search_arguments(p, _bytes)

    p = verbs.add_parser("tflm-baseline", help="measure TFLM + CMSIS-NN on an emulated board: the baseline we compare "
                                               "against (needs TFLM_PATH)")
    from .run.tflm_baseline import add_tflm_baseline_arguments
    add_tflm_baseline_arguments(p)
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def convert_verb(args: argparse.Namespace) -> int:
    from .api import convert
    from .pipeline import print_summary
    result = convert(args.model, board=args.board, out=args.out, calib=args.calib, kernels=args.kernels,
                     optimize=args.optimize, prefix=args.prefix, input_shape=args.input_shape, mean=args.mean,
                     std=args.std, layout=args.layout, calib_samples=args.calib_samples, progress=True,
                     frontend=args.frontend, ram=args.ram)
    print_summary(result.report, args.out)
    return 0


def bench_verb(args: argparse.Namespace) -> int:
    import json

    from .api import bench
    from .run.bench import format_table
    result = bench(args.out, args.board, kernels=args.kernels, timeout=args.timeout)
    print(json.dumps(result.report) if args.json else format_table(result.report))
    return 0 if result.bit_exact else 1


def verify_verb(args: argparse.Namespace) -> int:
    from .api import verify
    from .verify import format_verify
    result = verify(args.out, args.samples, board=args.board, seed=args.seed, sanitize=args.sanitize)
    print(format_verify(result.report))
    return 0 if result.bit_exact else 1


def inspect_verb(args: argparse.Namespace) -> int:
    from .api import inspect
    info = inspect(args.model)
    print(info.text)
    return 0 if info.supported else 1


def dispatch(args: argparse.Namespace) -> int:
    # Imports are per verb: `tinyattend --help` must not pay for TensorFlow.
    if args.verb == "convert":
        return convert_verb(args)
    if args.verb == "run":
        from .run.runner import run_command
        return run_command(args)
    if args.verb == "verify":
        return verify_verb(args)
    if args.verb == "bench":
        return bench_verb(args)
    if args.verb == "inspect":
        return inspect_verb(args)
    if args.verb == "report":
        from .report.html import report_command
        return report_command(args)
    if args.verb == "zoo":
        from .zoo.cli import zoo_command
        return zoo_command(args)
    if args.verb == "demo":
        from .demo import demo_command
        return demo_command(args)
    if args.verb == "bench-all":
        from .run.bench_all import bench_all_command
        return bench_all_command(args)
    if args.verb == "search":
        from .search.cli import search_command
        return search_command(args)
    if args.verb == "tflm-baseline":
        from .run.tflm_baseline import tflm_baseline_command
        return tflm_baseline_command(args)
    raise AssertionError(args.verb)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv          # accepted after the verb too: `tinyattend convert ... --debug`
    args = build_parser().parse_args(["--debug"] * debug + [a for a in argv if a != "--debug"])
    from .guard import Terminated, cleanup_on_signals
    try:
        with cleanup_on_signals():
            return dispatch(args)
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except Exception as err:  # noqa: BLE001 - the single top-level handler (tinyattend/guard.py)
        from .guard import as_user_error
        error = as_user_error(err, args.verb)
        if debug:
            import traceback
            traceback.print_exception(err, file=sys.stderr)
        print(error.render(), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
