"""Calibration: the float range (min, max) of every activation over the calibration samples, written
into the float TFLite model where TensorFlow's quantizer reads it.

TensorFlow's own calibrator does the same job sample by sample in a logging interpreter, at 69 ms a
sample for attendnext-micro (44M MACs); most of that is its kernels, not the logging. Here the model
runs in LiteRT's builtin kernels (no delegate, so every intermediate tensor stays readable), a few
samples per invoke where the graph takes a batch, and the ranges are the absolute min and max over
all samples, as TF's calibration logger keeps them (tensorflow/lite/tools/optimize/calibration,
MinMax::Update), except padding sentinels (SENTINEL). The model then goes to TF's MLIR quantizer.

Cost is one forward pass per sample plus a min/max over each activation: linear in the number of
samples (tests/test_convert_speed.py checks it).
"""
from __future__ import annotations

import os
import threading

import numpy as np

BATCH = 16        # samples per invoke; bounds the memory of keeping every tensor (batch x all activations)
# Values this large stand for infinity: onnx2tf pads a MaxPool with the lowest float32 (PADV2). In a range
# they would make the scale ~1e36, which LiteRT's and TFLM's kernels abort on (torchvision ResNet-18);
# left out, the padding quantizes to -128, below every real value, as max pooling needs.
SENTINEL = 1e30
# The narrowest SOFTMAX input range (beta 1): int8 scale 2^-24, four times what TFLM's softmax needs
# (softmax_input_floor).
SOFTMAX_MIN_SPAN = 255 * 2.0 ** -24


def activation_tensors(model) -> list[int]:
    """Indices of subgraph 0's non-constant float32 tensors that some op reads or writes (the model's
    input included): the tensors TF's calibrator gives a min/max."""
    from ai_edge_litert import schema_py_generated as schema

    graph = model.subgraphs[0]
    used = set(graph.inputs) | set(graph.outputs)
    for op in graph.operators:
        used.update(int(i) for i in op.inputs if i >= 0)
        used.update(int(i) for i in op.outputs if i >= 0)
    return sorted(i for i in used
                  if graph.tensors[i].type == schema.TensorType.FLOAT32
                  and model.buffers[graph.tensors[i].buffer].data is None)


def activation_ranges(float_tflite: bytes, samples_nhwc: np.ndarray, tensors: list[int], bar=None,
                      batch: int = BATCH, workers: int | None = None) -> dict[int, tuple[float, float]]:
    """{tensor index: (min, max)} over `samples_nhwc` (N, ...), each sample shaped like the model input
    without its batch dimension of 1. `bar` (a progress bar) advances by the samples done.

    The invokes are shared out over `workers` threads (default: calibration_workers(), 2 on free CPUs),
    each with its own interpreters: LiteRT releases the GIL while it runs, so they run on both cores. The
    samples go in the same groups (the same batch of the same samples) whichever thread takes them, and a
    min or max does not depend on the order it is taken in: the ranges are those of one thread, exactly."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .quiet import silenced

    def interpreter(size: int):
        with silenced():
            it = Interpreter(model_content=float_tflite, experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            if size != 1:
                it.resize_tensor_input(it.get_input_details()[0]["index"], [size, *samples_nhwc.shape[1:]])
            it.allocate_tensors()
        return it

    single = interpreter(1)
    batched = _batched_interpreter(interpreter, single, samples_nhwc, batch)
    groups = []                  # (first sample, count, batched?) in the order one thread takes them
    start = 0
    while start < len(samples_nhwc):
        whole_batch = batched is not None and len(samples_nhwc) - start >= batch
        count = batch if whole_batch else 1
        groups.append((start, count, whole_batch))
        start += count
    workers = min(workers or calibration_workers(), len(groups)) or 1
    # Every interpreter is made here, in this thread: `silenced` swaps the process's file descriptors.
    pairs = [(single, batched)] + [(interpreter(1), interpreter(batch) if batched is not None else None)
                                   for _ in range(workers - 1)]
    lock = threading.Lock()

    def run(worker: int) -> tuple[np.ndarray, np.ndarray]:
        lows = np.full(len(tensors), np.inf, np.float64)
        highs = np.full(len(tensors), -np.inf, np.float64)
        single_it, batched_it = pairs[worker]
        for first, count, whole_batch in groups[worker::workers]:     # every worker-th group: a fixed share
            it = batched_it if whole_batch else single_it
            _invoke(it, samples_nhwc[first:first + count])
            _update_ranges(it, tensors, lows, highs)
            if bar is not None:
                with lock:
                    bar.update(count)
        return lows, highs

    # Shares 1.. in threads of their own, share 0 in this one: a pool could hand a second share to a thread
    # that has finished its first (a loaded machine), and the two would run one after the other.
    results: list = [None] * workers
    failed: list = []

    def share(worker: int) -> None:
        try:
            results[worker] = run(worker)
        except BaseException as err:   # noqa: BLE001 - raised again in the calling thread
            failed.append(err)
    threads = [threading.Thread(target=share, args=(k,), name=f"tinyattend-calibration_{k}", daemon=True)
               for k in range(1, workers)]
    for thread in threads:
        thread.start()
    results[0] = run(0)                # a limit's signal interrupts this thread: it raises from here
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    lows = np.min([low for low, _ in results], axis=0)
    highs = np.max([high for _, high in results], axis=0)
    return {index: (float(lo), float(hi)) for index, lo, hi in zip(tensors, lows, highs) if lo <= hi}


def calibration_workers() -> int:
    """Threads for calibration: 2 where this process may use 2 CPUs or more and they are not busy, else 1.
    More than 2 would multiply the memory of keeping every activation of a batch for little gain. Busy: the
    load average (this conversion itself counts about 1) is at least the CPU count; on a 2-core machine
    with another conversion running, a second thread made calibration slower (3.6 s -> 4.5 s), not faster."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cpus
    except (AttributeError, OSError):
        busy = False
    return 2 if cpus >= 2 and not busy else 1


def _update_ranges(it, tensors: list[int], lows: np.ndarray, highs: np.ndarray) -> None:
    for k, index in enumerate(tensors):
        values = it.get_tensor(index)
        if values.size:
            low, high = float(values.min()), float(values.max())
            if low <= -SENTINEL or high >= SENTINEL:
                values = values[np.abs(values) < SENTINEL]
                low, high = (float(values.min()), float(values.max())) if values.size else (np.inf, -np.inf)
            lows[k] = min(lows[k], low)
            highs[k] = max(highs[k], high)


def _invoke(it, x: np.ndarray) -> None:
    it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x, np.float32))
    it.invoke()


def _batched_interpreter(make, single, samples: np.ndarray, batch: int):
    """An interpreter taking `batch` samples at once, or None when the graph does not treat the batch
    dimension as a batch (a RESHAPE with a fixed leading 1, ...): its output for the first samples must
    equal, up to float rounding, the batch-1 model's output for each."""
    if len(samples) < 2 * batch:
        return None
    try:
        it = make(batch)
        _invoke(it, samples[:batch])
        got = it.get_tensor(it.get_output_details()[0]["index"])
    except (RuntimeError, ValueError):
        return None
    out = single.get_output_details()[0]["index"]
    if got.shape[:1] != (batch,):
        return None
    for k in (0, batch - 1):
        _invoke(single, samples[k:k + 1])
        want = single.get_tensor(out)
        if got[k:k + 1].shape != want.shape or not np.allclose(got[k:k + 1], want, rtol=1e-4, atol=1e-5):
            return None
    return it


def with_ranges(float_tflite: bytes, ranges: dict[int, tuple[float, float]], model=None) -> bytes:
    """`float_tflite` with each listed tensor's quantization min/max set (subgraph 0), as TF's calibrator
    writes them for its MLIR quantizer. `model`: `float_tflite` already read as objects, which this
    changes (reading a flatbuffer into objects costs 0.1-0.2 s for a model of 300 tensors)."""
    from ai_edge_litert import schema_py_generated as schema

    from .tflite_objects import read_model, write_model

    model = read_model(float_tflite) if model is None else model
    tensors = model.subgraphs[0].tensors
    for index, (low, high) in ranges.items():
        params = tensors[index].quantization or schema.QuantizationParametersT()
        params.min = np.array([low], np.float32)
        params.max = np.array([high], np.float32)
        tensors[index].quantization = params
    return write_model(model)


def calibrated(float_tflite: bytes, samples_nhwc: np.ndarray, bar=None, model=None) -> bytes:
    """The float model with the ranges of its activations over `samples_nhwc`. `model`: `float_tflite`
    read as objects (with_ranges), changed here."""
    from .tflite_objects import read_model

    model = read_model(float_tflite) if model is None else model
    ranges = activation_ranges(float_tflite, samples_nhwc, activation_tensors(model), bar)
    return with_ranges(float_tflite, softmax_input_floor(model, ranges), model)


def softmax_input_floor(model, ranges: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """`ranges` with each SOFTMAX input's range widened (about its centre) to at least SOFTMAX_MIN_SPAN / beta.

    TFLM's and LiteRT's int8 softmax scale the input by beta * scale * 2^26 with QuantizeMultiplierGreaterThanOne,
    which aborts the process when that is <= 1: an input scale under 2^-26 (a range under ~3.8e-6), as the
    attention logits of a randomly initialised LeViT have (|logits| ~ 1e-6). Over so narrow a range the softmax
    is uniform to float precision, so the wider range loses nothing."""
    from ai_edge_litert import schema_py_generated as schema

    graph = model.subgraphs[0]
    out = dict(ranges)
    ops = schema.BuiltinOperator
    same_scale = {ops.TRANSPOSE, ops.RESHAPE, ops.SQUEEZE, ops.EXPAND_DIMS}
    producers = {int(o): op for op in graph.operators for o in op.outputs}
    for op in graph.operators:
        if _builtin(model, op) != ops.SOFTMAX:
            continue
        beta = float(op.builtinOptions.beta) if op.builtinOptions is not None else 1.0
        index = int(op.inputs[0])
        span = SOFTMAX_MIN_SPAN / beta if beta > 0 else 0.0
        # TF's quantizer gives a TRANSPOSE/RESHAPE output its input's scale (EfficientViT's softmax reads a
        # TRANSPOSE): widen back through such ops, or the floor is lost.
        while index in out:
            low, high = out[index]
            if high - low < span:
                centre = (low + high) / 2
                out[index] = (centre - span / 2, centre + span / 2)
            producer = producers.get(index)
            if producer is None or _builtin(model, producer) not in same_scale:
                break
            index = int(producer.inputs[0])
    return out


def _builtin(model, op) -> int:
    from .tflite_objects import builtin_code
    return builtin_code(model, op)
