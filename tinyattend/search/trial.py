"""One trial of the search, as it runs in a Ray worker: the candidate measured as a user would deploy it.

1. Cost, before any training: the untrained candidate is exported and converted (a few training images
   calibrate it; the planner refuses a plan over the RAM limit), and run on the emulated board when a flash
   or instruction limit is set. Instructions, peak RAM and flash hardly depend on the weights' values (the
   trained model's instructions differ by under 1%), so a candidate over a limit is rejected here, with the
   figure that broke it. The trained model's figures are checked against the limits again.
2. Train it briefly (train.py), export it to ONNX, convert it with calibration from the training split,
   run it on the emulated board (instructions, peak RAM, flash, bit-exact against TFLM), and score the
   int8 model (the generated C, host build) on the held-out split.

The result is a plain dict (status `complete`, `rejected` or `failed`, with a reason) carrying the ONNX
and the converted project as bytes, so a trial on another machine of a Ray cluster needs no shared disk.
"""
from __future__ import annotations

import io
import os
import socket
import tarfile
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DoesNotFitError, ResourceLimitError, TinyattendError
from .train import TrainBudget

COST_CALIB_SAMPLES = 16     # the untrained candidate's calibration: its figures do not depend on it


@dataclass(frozen=True)
class Limits:
    ram: int | None = None            # arena + stack, bytes (None: the board's RAM)
    flash: int | None = None          # firmware text + data, bytes (None: the board's flash)
    max_instructions: int | None = None


@dataclass(frozen=True)
class TrialRequest:
    number: int
    architecture: dict               # search.space.Architecture.to_dict()
    board: str
    limits: Limits
    budget: TrainBudget
    seed: int
    calib_samples: int = 100
    run_timeout: float = 120.0
    cost_only: bool = False          # stop after the untrained candidate's figures (the driver's first check)


class Rejected(Exception):
    """The candidate cannot meet a limit; no training is spent on it."""


def run_trial(request: TrialRequest, data) -> dict:
    """The whole trial; never raises for a candidate's own failure (it is recorded with its reason)."""
    result = {"trial": request.number, "worker_pid": os.getpid(), "worker_node": _node(),
              "worker_host": socket.gethostname(), "architecture": request.architecture}
    timings = {"train_s": 0.0, "convert_s": 0.0, "emulate_s": 0.0, "evaluate_s": 0.0}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=f"tinyattend-trial{request.number}-") as tmp:
            result.update(_measure_and_train(request, data, Path(tmp), timings, result))
            result["status"] = "complete"
    except Rejected as why:
        result.update(status="rejected", reason=str(why))
    except (DoesNotFitError, ResourceLimitError) as err:
        result.update(status="rejected", reason=err.message)
    except TinyattendError as err:
        result.update(status="failed", reason=f"{type(err).__name__}: {err.message}")
    except Exception as err:  # noqa: BLE001 - a candidate's failure must not stop the study; recorded
        result.update(status="failed", reason=f"{type(err).__name__}: {err}",
                      detail="".join(traceback.format_exception(err))[-4000:])
    result.update(timings, total_s=round(time.monotonic() - started, 2))
    return result


def _measure_and_train(request: TrialRequest, data, tmp: Path, timings: dict, result: dict) -> dict:
    """The trial's figures; `result` gets the description and the untrained figures as soon as they are known,
    so a rejected or failed trial is recorded with them."""
    import torch

    from ..zoo.export import export_model
    from ..zoo.searchnet import SearchNet
    from .space import Architecture
    from .train import top1, train

    torch.set_num_threads(1)       # one trial per core: small ops run faster on one thread than on two
    torch.manual_seed(request.seed + request.number)
    channels, height, width = data.shape
    model = SearchNet(request.architecture, data.num_classes, channels, height, width)
    arch = Architecture.from_dict(request.architecture)
    found = {"description": arch.describe(tuple(model.condensers)),
             "params": int(sum(p.numel() for p in model.parameters()))}
    result.update(found)

    # 1. Cost of the untrained candidate: the planner's static figures (a plan over the RAM limit is refused
    # by the conversion), and the board run when a limit needs its figures (flash, instructions).
    limits = request.limits
    measure = request.cost_only or limits.flash is not None or limits.max_instructions is not None
    untrained = export_model(_copy(model), tmp / "untrained.onnx", (height, width), channels=channels)
    cost = _convert_and_run(request, untrained, data.x_train[:COST_CALIB_SAMPLES], tmp / "untrained", timings,
                            static_only=not measure)
    if measure:
        result.update({k: cost[k] for k in ("instructions", "peak_ram", "flash", "arena", "macs")})
        _check_limits(limits, cost)
    if request.cost_only:
        return {**found, **cost}

    # 2. Train, export, convert with real calibration, run, score.
    t = time.monotonic()
    trained = train(model, data.x_train, data.y_train, request.budget, request.seed + request.number)
    timings["train_s"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    float_top1 = top1(model, data.x_test, data.y_test)
    timings["evaluate_s"] += time.monotonic() - t
    onnx_path = export_model(model, tmp / "model.onnx", (height, width), channels=channels)
    rng = np.random.default_rng(request.seed)
    calib = data.x_train[rng.choice(len(data.x_train), min(request.calib_samples, len(data.x_train)), replace=False)]
    final = _convert_and_run(request, onnx_path, calib, tmp / "project", timings)
    if not final["bit_exact"]:
        raise RuntimeError(f"the generated C's output differs from TFLM's on the board: {final['bit_exact_error']}")
    try:
        _check_limits(request.limits, final)      # the trained figures can differ by a few instructions
    except Rejected as why:
        raise Rejected(f"after training: {why}") from None
    from ..evaluate import int8_top1_on_host
    t = time.monotonic()
    int8_top1 = int8_top1_on_host(tmp / "project", data.x_test, data.y_test)
    timings["evaluate_s"] = round(timings["evaluate_s"] + time.monotonic() - t, 2)
    return {**found, **final, "float_top1": round(float_top1, 6), "int8_top1": round(int8_top1, 6),
            "epochs": trained.epochs, "untrained_instructions": cost.get("instructions"),
            "onnx": onnx_path.read_bytes(), "project": _tar(tmp / "project")}


def _convert_and_run(request: TrialRequest, onnx_path: Path, calib: np.ndarray, out: Path, timings: dict,
                     static_only: bool = False) -> dict:
    """Convert (the planner refuses a plan over the RAM limit) and, unless `static_only`, run on the board."""
    from ..api import bench, convert
    calib_file = out.with_suffix(".calib.npy")
    np.save(calib_file, calib)
    t = time.monotonic()
    converted = convert(onnx_path, board=request.board, out=out, calib=calib_file, calib_samples=len(calib),
                        ram=request.limits.ram)
    timings["convert_s"] = round(timings["convert_s"] + time.monotonic() - t, 2)
    limits = request.limits
    if limits.flash is not None and converted.weight_bytes > limits.flash:
        raise Rejected(f"weights {converted.weight_bytes:,} B > flash limit {limits.flash:,} B (before any build)")
    if static_only:
        return {"arena": converted.arena_bytes, "weights": converted.weight_bytes}
    t = time.monotonic()
    measured = bench(out, request.board, timeout=request.run_timeout)
    timings["emulate_s"] = round(timings["emulate_s"] + time.monotonic() - t, 2)
    return {"instructions": measured.instructions, "peak_ram": measured.peak_ram_bytes, "arena": measured.arena_bytes,
            "flash": measured.flash_bytes, "macs": measured.macs, "bit_exact": measured.bit_exact,
            "bit_exact_error": measured.bit_exact_error, "kernels": measured.kernels}


def _check_limits(limits: Limits, cost: dict) -> None:
    if limits.ram is not None and cost["peak_ram"] > limits.ram:
        raise Rejected(f"peak RAM {cost['peak_ram']:,} B > limit {limits.ram:,} B")
    if limits.flash is not None and cost["flash"] > limits.flash:
        raise Rejected(f"flash {cost['flash']:,} B > limit {limits.flash:,} B")
    if limits.max_instructions is not None and cost["instructions"] > limits.max_instructions:
        raise Rejected(f"{cost['instructions']:,} instructions > limit {limits.max_instructions:,}")


def _copy(model):
    """A copy to export untrained: export folds BatchNorm in place, and the original is still to train."""
    import copy
    return copy.deepcopy(model)


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
    return buffer.getvalue()


def _node() -> str:
    try:
        import ray
        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()[:12]
    except Exception:  # noqa: BLE001 - outside Ray there is no node id
        pass
    return "local"
