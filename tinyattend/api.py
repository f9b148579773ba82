"""The Python API: convert, bench, verify, inspect. The CLI is a thin layer over these.

    import tinyattend
    result = tinyattend.convert("model.onnx", board="cortex-m7", out="out", calib="calib.npy")
    bench = tinyattend.bench(result.out)               # on the board it was converted for
    print(result.arena_bytes, bench.instructions, bench.bit_exact)

Results are frozen dataclasses with the figures report.json and `--json` give (`.report` keeps the whole
JSON object). User errors raise tinyattend.errors types (TinyattendError and subclasses), never SystemExit.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .codegen.prefix import DEFAULT_PREFIX, check_prefix
from .errors import BadModelError, OptionError

KERNEL_SETS = ("portable", "fast", "helium", "cmsis-nn", "auto")          # as the CLI's --kernels
OPTIMIZE_GOALS = ("speed", "size", "balanced")                  # as the CLI's --optimize

# A model: a path (.onnx, .tflite, .keras/.h5, SavedModel directory), an onnx.ModelProto, a Keras model,
# or the bytes of a full-integer int8 .tflite.
ModelLike = Union[str, Path, bytes, bytearray, Any]


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: shape (NHWC for images), dtype (int8 or float32) and the int8 quantization
    at that edge (for a float32 edge, the one its QUANTIZE/DEQUANTIZE applies)."""
    shape: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int | None

    @classmethod
    def from_report(cls, entry: dict | None) -> "TensorInfo":
        entry = entry or {}
        return cls(tuple(entry.get("shape") or ()), entry.get("dtype", "int8"), entry.get("scale"),
                   entry.get("zero_point"))


@dataclass(frozen=True)
class QuantizationError:
    """int8 model vs float model on held-out calibration samples."""
    samples: int
    top1_agreement: float | None
    max_abs_error: float
    mean_abs_error: float


@dataclass(frozen=True)
class LayerRow:
    """One generated layer: `macs` from the conversion; `instructions` (QEMU icount, or cycles on a real
    board) from a bench run, else None."""
    index: int
    op: str
    macs: int | None = None
    instructions: int | None = None


@dataclass(frozen=True)
class ConvertResult:
    out: Path
    model: str
    board: str
    kernels: str                 # the kernel set used (what `auto` resolved to)
    optimize: str
    prefix: str
    input: TensorInfo
    output: TensorInfo
    params: int
    macs: int
    weight_bytes: int
    arena_bytes: int             # our arena plan
    tflm_arena_bytes: int | None  # the arena TFLM's host build needs for the same model; None if it could not
    layers: tuple[LayerRow, ...]
    quantization_error: QuantizationError | None
    warnings: tuple[str, ...]
    report: dict = field(repr=False, compare=False)   # report.json, whole


@dataclass(frozen=True)
class BenchResult:
    board: str
    cpu: str
    kernels: str
    model: str | None
    emulated: bool
    count_unit: str              # "instructions" (QEMU icount) or "cycles" (DWT on a real board)
    instructions: int
    macs: int | None
    macs_per_instruction: float | None
    arena_bytes: int
    stack_bytes: int
    peak_ram_bytes: int
    flash_bytes: int
    text_bytes: int
    data_bytes: int
    weights_bytes: int | None
    bit_exact: bool              # the output equals the TFLM interpreter's, bit for bit
    bit_exact_error: str | None  # why no comparison could be made, if none was
    layers: tuple[LayerRow, ...]
    report: dict = field(repr=False, compare=False)   # bench.json, whole


@dataclass(frozen=True)
class VerifyBatch:
    kind: str                    # "random" or "calibration" (held-out inputs)
    samples: int
    identical: int
    max_abs_diff_lsb: int
    first_mismatch: int | None


@dataclass(frozen=True)
class VerifyResult:
    board: str
    bit_exact: bool              # every output of every batch equals TFLM's
    batches: tuple[VerifyBatch, ...]
    report: dict = field(repr=False, compare=False)   # the same figures as JSON-ready data


@dataclass(frozen=True)
class OpRow:
    """One op of a .tflite (kernel support per kernel set) or one node of an .onnx (convertible or not)."""
    index: int
    op: str
    name: str                    # output tensor (.tflite) or node name (.onnx)
    macs: int | None             # .tflite only
    supported: bool              # every kernel set supports it (.tflite); the converter takes it (.onnx)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    format: str                  # "tflite" or "onnx"
    ops: tuple[OpRow, ...]
    problems: tuple[str, ...]    # one line per problem: op, where, why
    macs: int | None
    weight_bytes: int | None
    text: str = field(repr=False, compare=False)      # the table `tinyattend inspect` prints

    @property
    def supported(self) -> bool:
        return not self.problems


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise OptionError(f"{name}={value!r} is not one of {', '.join(choices)}", f"pass {name}= one of {choices}")
    return value


def _model_path(model: ModelLike, tmp: Path) -> tuple[Path, str]:
    """A path for `model` (in-memory models are written to tmp) and the name the library records."""
    if isinstance(model, (str, Path)):
        return Path(model), Path(model).name
    if isinstance(model, (bytes, bytearray, memoryview)):
        path = tmp / "model.tflite"
        path.write_bytes(bytes(model))
        return path, "model.tflite"
    kind = type(model).__module__ + "." + type(model).__name__
    if kind.startswith("onnx") and hasattr(model, "SerializeToString"):
        path = tmp / "model.onnx"
        path.write_bytes(model.SerializeToString())
        return path, (getattr(model.graph, "name", "") or "model") + ".onnx"
    if "keras" in kind and hasattr(model, "save"):
        path = tmp / "model.keras"
        model.save(str(path))
        return path, (getattr(model, "name", "") or "model") + ".keras"
    raise BadModelError(f"cannot convert a {kind}",
                        "pass a path (.onnx, .tflite, .keras/.h5, SavedModel directory), an onnx.ModelProto, "
                        "a Keras model, or the bytes of a full-integer int8 .tflite")


def _layers(rows: list[dict]) -> tuple[LayerRow, ...]:
    return tuple(LayerRow(int(r["index"]), r["op"], r.get("macs"), r.get("instructions")) for r in rows)


def convert_result(out: Path, report: dict) -> ConvertResult:
    """A ConvertResult from an OUT's report.json contents."""
    q = report.get("quantization_error")
    return ConvertResult(
        out=Path(out), model=report.get("model", "model"), board=report.get("board", "?"),
        kernels=report.get("kernels", "portable"), optimize=report.get("optimize", "balanced"),
        prefix=report.get("prefix", DEFAULT_PREFIX),
        input=TensorInfo.from_report(report.get("input")), output=TensorInfo.from_report(report.get("output")),
        params=int(report.get("params") or 0), macs=int(report.get("macs") or 0),
        weight_bytes=int(report.get("weight_bytes") or 0), arena_bytes=int(report.get("arena_bytes") or 0),
        tflm_arena_bytes=report.get("tflm_arena_bytes"), layers=_layers(report.get("layers", [])),
        quantization_error=QuantizationError(int(q["samples"]), q.get("top1_agreement"), float(q["max_abs_error"]),
                                             float(q["mean_abs_error"])) if q else None,
        warnings=tuple(report.get("warnings", [])), report=report)


def convert(model: ModelLike, board: str = "cortex-m7", out: str | Path = "out", calib: str | Path | None = None,
            kernels: str = "auto", optimize: str = "balanced", *, prefix: str = DEFAULT_PREFIX,
            input_shape: tuple[int, ...] | None = None, mean: tuple[float, ...] | None = None,
            std: tuple[float, ...] | None = None, layout: str | None = None, calib_samples: int = 200,
            progress: bool = False, frontend: str | None = None, ram: int | None = None) -> ConvertResult:
    """Convert `model` to a calibrated int8 model and generate its C library into `out` (model/, a firmware
    or host project, model.tflite, report.json, README.md). `out` is replaced only if tinyattend wrote it.

    calib: a .npy/.npz array (N x input, `layout` nchw|nhwc, default the model's) or a folder of images,
    normalised as (pixel - mean) / std on the 0..255 scale; None calibrates on noise (with a warning).
    prefix: the library's C names and file names (`kws` -> kws_model.h, kws_invoke, KWS_ARENA_SIZE).
    progress: print the converter's step lines to stderr.
    frontend: ONNX only: "auto" (default: the TensorFlow-free direct path, else onnx2tf's TensorFlow path),
    "direct" or "tensorflow"; None reads $TINYATTEND_ONNX_FRONTEND.
    ram: bytes of RAM for the arena plus the firmware's stack (default: the board's RAM region): the
    fastest plan found that fits (the lean kernels where the fast ones' scratch is at the peak), else
    DoesNotFitError."""
    from .boards import load_board
    from .pipeline import convert_project
    _choice("kernels", kernels, KERNEL_SETS)
    _choice("optimize", optimize, OPTIMIZE_GOALS)
    check_prefix(prefix)
    if layout is not None:
        _choice("layout", layout, ("nchw", "nhwc"))
    if frontend is not None:
        _choice("frontend", frontend, ("auto", "direct", "tensorflow"))
    if ram is not None and (isinstance(ram, bool) or not isinstance(ram, int) or ram <= 0):
        raise OptionError(f"ram={ram!r}: give the bytes of RAM as a positive integer", "e.g. ram=256 * 1024")
    target = load_board(board)
    with tempfile.TemporaryDirectory(prefix="tinyattend-model-") as tmp:
        path, name = _model_path(model, Path(tmp))
        report = convert_project(path, target, Path(out), calib=None if calib is None else str(calib),
                                 input_shape=tuple(input_shape) if input_shape else None, mean=mean, std=std,
                                 layout=layout, calib_samples=calib_samples, kernels=kernels, optimize=optimize,
                                 prefix=prefix, model_name=name, progress=None if progress else False,
                                 frontend=frontend, ram=ram)
    return convert_result(Path(out), report)


def bench(out: str | Path, board: str | None = None, *, kernels: str | None = None,
          timeout: float = 120.0) -> BenchResult:
    """Build the firmware for `board` (default: the board `out` was converted for), run one inference on it
    (QEMU with -icount, or a real board), and compare the output with TFLM's. Writes OUT/bench.json."""
    from .boards import load_board
    from .run.bench import bench as run_bench
    out = Path(out)
    if kernels is not None:
        _choice("kernels", kernels, KERNEL_SETS)
    if board is None:
        report_path = out / "report.json"
        board = json.loads(report_path.read_text()).get("board") if report_path.is_file() else None
        if board is None:
            raise BadModelError(f"{out} has no report.json naming its board",
                                f"run `tinyattend convert MODEL --board BOARD -o {out}` first, or pass board=")
    r = run_bench(out, load_board(board), kernels=kernels, timeout=timeout)
    (out / "bench.json").write_text(json.dumps(r, indent=2) + "\n")
    # Per-layer MACs from the conversion, when the run is of that same generated code (not another variant).
    report_path = out / "report.json"
    converted = json.loads(report_path.read_text()) if report_path.is_file() else {}
    same = (converted.get("board"), converted.get("kernels")) == (r["board"], r["kernels"])
    macs = {row["index"]: row.get("macs") for row in converted.get("layers", [])} if same else {}
    return BenchResult(
        board=r["board"], cpu=r["cpu"], kernels=r["kernels"], model=r["model"], emulated=r["emulated"],
        count_unit=r["count_unit"], instructions=r["instructions"], macs=r["macs"],
        macs_per_instruction=r["macs_per_instruction"], arena_bytes=r["arena_bytes"], stack_bytes=r["stack_bytes"],
        peak_ram_bytes=r["peak_ram_bytes"], flash_bytes=r["flash_bytes"], text_bytes=r["text_bytes"],
        data_bytes=r["data_bytes"], weights_bytes=r["weights_bytes"], bit_exact=r["bit_exact"],
        bit_exact_error=r.get("bit_exact_error"), report=r,
        layers=tuple(LayerRow(l["index"], l["op"], macs.get(l["index"]), l["instructions"]) for l in r["layers"]))


def verify(out: str | Path, samples: int = 100, *, board: str = "host", seed: int = 0,
           sanitize: bool = False) -> VerifyResult:
    """Run `samples` random inputs (and as many held-out calibration inputs) through the generated C (host
    build, or `board`) and through the TFLM interpreter, and compare the outputs exactly. `sanitize`: the
    host build runs under AddressSanitizer and UBSan."""
    from .verify import verify_outputs
    if samples < 1:
        raise OptionError(f"samples={samples}: at least one sample is needed", "pass samples >= 1")
    if sanitize and board != "host":
        raise OptionError(f"sanitize=True with board={board!r}: the sanitizers run on the host build only",
                          "verify with board='host' (--board host) to use the sanitizers")
    r = verify_outputs(Path(out), samples=samples, board=board, seed=seed, sanitize=sanitize)
    return VerifyResult(board=r["board"], bit_exact=r["bit_exact"], batches=tuple(
        VerifyBatch(kind, b["samples"], b["identical"], b["max_abs_diff_lsb"], b["first_mismatch"])
        for kind, b in r["batches"].items()), report=r)


def inspect(model: str | Path) -> ModelInfo:
    """Ops, shapes, quantization, MACs and kernel support of a .tflite; for an .onnx, whether the converter
    takes each node."""
    from .inspect import inspect_model
    path = Path(model)
    text, r = inspect_model(path)
    fmt = "tflite" if path.suffix.lower() == ".tflite" else "onnx"
    if fmt == "tflite":
        ops = tuple(OpRow(row["index"], row["op"], row["output"], row["macs"], all(row["supported"].values()))
                    for row in r["ops"])
        problems = tuple(f"{p['op']} (op {p['index']}, {p['kernels']}): {p['reason']}" for p in r["problems"])
        macs, weights = sum(row["macs"] for row in r["ops"]), sum(row["weight_bytes"] for row in r["ops"])
    else:
        ops = tuple(OpRow(row["index"], row["op"], row["node"], None, row["convertible"]) for row in r["ops"])
        problems = tuple(f"{p['op']} (node '{p['node']}'): {p['reason']}" for p in r["problems"])
        macs = weights = None
    return ModelInfo(name=path.name, format=fmt, ops=ops, problems=problems, macs=macs, weight_bytes=weights, text=text)


def search(data: str | Path, board: str = "cortex-m7", trials: int = 40, out: str | Path = "search-out", *,
           epochs: int = 20, train_seconds: float = 240.0, ram: int | None = None, flash: int | None = None,
           max_instructions: int | None = None, address: str | None = None, storage: str | None = None,
           workers: int = 0, space: str | Path | None = None, seed: int = 0, tolerance: float = 0.005,
           progress: bool = False):
    """Machine-driven design exploration (tinyattend.search): `trials` attention-condenser networks sampled
    from `space` (default: search/space.py's), each measured on the emulated `board` before training (rejected
    if over ram/flash/max_instructions), trained `epochs` on `data` ("digits", a folder of class folders, or an
    .npz with x and y), converted to int8 and scored on the held-out split. Trials run as Ray tasks (a local
    cluster of `workers` CPUs, or the cluster at `address`); the Optuna study lives in `storage` (default
    OUT/study.db) and resumes when called again. Returns search.results.SearchSummary (front, recommended)."""
    from .search.study import SearchSettings, run_search
    from .search.train import TrainBudget
    from .search.trial import Limits
    for name, value in (("ram", ram), ("flash", flash), ("max_instructions", max_instructions)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise OptionError(f"{name}={value!r}: give a positive integer", f"e.g. {name}=131072")
    settings = SearchSettings(data=str(data), board=board, trials=trials, out=Path(out),
                              limits=Limits(ram, flash, max_instructions),
                              budget=TrainBudget(epochs=epochs, seconds=train_seconds), space=None if space is None
                              else str(space), address=address, storage=storage, workers=workers, seed=seed,
                              tolerance=tolerance, progress=progress)
    return run_search(settings)
