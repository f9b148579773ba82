"""Per-layer quantization error: where did int8 accuracy go?

The float TFLite model and the int8 TFLite model converted from the same graph are run side by side
in LiteRT on the same float samples, keeping every intermediate tensor. Each int8 op output is matched
to its float tensor, dequantized (real = scale * (q - zero_point)) and compared as a signal-to-
quantization-noise ratio, SQNR = 10 log10(sum(float^2) / sum((float - dequantized)^2)) in dB, summed
over all samples.

Matching: the TFLite converter names an op's output tensor after the TF ops fused into it, and a float
and an int8 conversion of the same graph give the same op the same name; int8-only ops (QUANTIZE,
DEQUANTIZE requantizations) have no float twin and are skipped. Ops whose names do not match fall back
to order: the next float op after the last match with the same type and output shape.

Error accumulates: a layer deep in the network has a low SQNR because its inputs already had one.
What a layer *adds* is `loss_db`, the drop from its inputs' SQNR to its own. Both use the per-channel
SQNR (last axis, NHWC), averaged over channels that carry signal, because a tensor-wide SQNR hides the
typical int8 failure: one outlier channel sets the per-tensor activation scale, is itself quantized
well and dominates the tensor's energy, while every other channel is rounded to a few levels. The
layer with the largest loss is `worst`; layers losing at least FLAG_LOSS_DB are `flagged`.

The pipeline calls `layer_errors(float_tflite, int8_tflite, samples)` with the float TFLite the
converter quantized (tinyattend.convert.int8_converter) and its held-out samples in NHWC.
"""
from __future__ import annotations

import numpy as np

from ..convert.ranges import SENTINEL

MAX_SQNR_DB = 100.0        # reported for an exact match (noise 0): beyond float32 resolution anyway
FLAG_LOSS_DB = 15.0        # a layer losing this much SQNR relative to its inputs is worth a look
_SKIP_OPS = ("QUANTIZE", "DEQUANTIZE")


def _interpreter(tflite: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from ..convert.quiet import silenced
    with silenced():   # builtin kernels: every tensor readable, and no XNNPACK to refuse a graph
        interpreter = Interpreter(model_content=tflite, experimental_preserve_all_tensors=True,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
    return interpreter


def sqnr_db(signal_power: float, noise_power: float) -> float | None:
    """10 log10(signal / noise), capped at MAX_SQNR_DB; None when there is no signal."""
    if signal_power <= 0.0:
        return None
    if noise_power <= 0.0:
        return MAX_SQNR_DB
    return float(min(MAX_SQNR_DB, 10.0 * np.log10(signal_power / noise_power)))


def match_tensors(float_graph, int8_graph) -> dict[int, int]:
    """int8 tensor index -> float tensor index, for every int8 op's first output that has a float twin."""
    float_ops = [op for op in float_graph.ops if op.type not in _SKIP_OPS]
    by_name = {float_graph.tensor(op.outputs[0]).name: op for op in float_ops}
    position = {op.index: i for i, op in enumerate(float_ops)}
    matches: dict[int, int] = {}
    cursor = -1                       # position in float_ops of the last match
    for op in int8_graph.ops:
        if op.type in _SKIP_OPS:
            continue
        out = int8_graph.tensor(op.outputs[0])
        twin = by_name.get(out.name)
        if twin is None or twin.type != op.type or float_graph.tensor(twin.outputs[0]).shape != out.shape:
            twin = next((f for f in float_ops[cursor + 1:]
                         if f.type == op.type and float_graph.tensor(f.outputs[0]).shape == out.shape), None)
        if twin is None:
            continue
        matches[op.outputs[0]] = twin.outputs[0]
        cursor = max(cursor, position[twin.index])
    return matches


class _Energy:
    """Signal and noise power per channel (last axis), summed over samples."""

    def __init__(self):
        self.signal = None
        self.noise = None

    def add(self, reference: np.ndarray, got: np.ndarray) -> None:
        channels = reference.shape[-1] if reference.ndim >= 2 else 1
        ref = reference.astype(np.float64).reshape(-1, channels)
        err = ref - got.astype(np.float64).reshape(-1, channels)
        signal, noise = (ref ** 2).sum(0), (err ** 2).sum(0)
        self.signal = signal if self.signal is None else self.signal + signal
        self.noise = noise if self.noise is None else self.noise + noise

    def tensor_db(self) -> float | None:
        return sqnr_db(float(self.signal.sum()), float(self.noise.sum()))

    def channel_db(self) -> float | None:
        """Mean per-channel SQNR over channels whose signal is at least 1e-6 of the strongest's."""
        strongest = float(self.signal.max())
        values = [sqnr_db(float(s), float(n)) for s, n in zip(self.signal, self.noise) if s > 1e-6 * strongest]
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None


def _dequantize(t, array: np.ndarray) -> np.ndarray:
    if t.quant is None or t.dtype in ("float32", "float16"):
        return array.astype(np.float32)
    scale = np.asarray(t.quant.scale, np.float32)
    zero = np.asarray(t.quant.zero_point, np.float32)
    if len(scale) > 1:             # per-channel activations are rare; broadcast along their axis
        shape = [1] * array.ndim
        shape[t.quant.axis] = len(scale)
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (array.astype(np.float32) - zero) * scale


def layer_interpreters(float_tflite: bytes, int8_tflite: bytes) -> tuple:
    """The float and int8 interpreters layer_errors runs. They are made with this process's output
    silenced (file descriptors): made in the calling thread, so layer_errors can run in another."""
    return _interpreter(float_tflite), _interpreter(int8_tflite)


def layer_errors(float_tflite: bytes, int8_tflite: bytes, samples: np.ndarray, interpreters=None) -> list[dict]:
    """Per-layer SQNR of the int8 model against the float model, in the int8 model's op order.

    samples: float32 (N, *input_shape[1:]) in the float TFLite input's layout (NHWC), the values the
    float model takes (already normalised). Returns one dict per matched op output:
    index, op, tensor, shape, sqnr_db (whole tensor), channel_sqnr_db, input_sqnr_db, loss_db,
    worst (bool, exactly one), flagged (bool). dB values are floats or None (no signal).
    interpreters: layer_interpreters(float_tflite, int8_tflite), if made already.
    """
    from ..inspect import short_name
    from ..ir.tflite_reader import read_tflite

    float_graph = read_tflite(float_tflite, "float model")
    int8_graph = read_tflite(int8_tflite, "int8 model")
    matches = match_tensors(float_graph, int8_graph)
    f_run, q_run = interpreters or layer_interpreters(float_tflite, int8_tflite)
    f_in, q_in = f_run.get_input_details()[0], q_run.get_input_details()[0]
    q_input = int8_graph.tensor(q_in["index"])
    energies = {index: _Energy() for index in matches}
    input_energy = _Energy()
    samples = np.asarray(samples, np.float32)
    for sample in samples:
        x = sample.reshape(f_in["shape"])
        f_run.set_tensor(f_in["index"], x)
        f_run.invoke()
        if q_input.dtype in ("int8", "int16", "uint8"):
            info = np.iinfo(q_in["dtype"])
            q = np.clip(np.round(x / q_input.scale) + q_input.zero_point, info.min, info.max).astype(q_in["dtype"])
            input_energy.add(x, _dequantize(q_input, q))
        else:
            q = x.astype(q_in["dtype"])
        q_run.set_tensor(q_in["index"], q.reshape(q_in["shape"]))
        q_run.invoke()
        for q_index, f_index in matches.items():
            reference = f_run.get_tensor(f_index)
            got = _dequantize(int8_graph.tensor(q_index), q_run.get_tensor(q_index))
            padding = np.abs(reference) >= SENTINEL       # -FLT_MAX max-pool padding: int8 holds -128 there
            if padding.any():
                reference, got = np.where(padding, 0.0, reference), np.where(padding, 0.0, got)
            energies[q_index].add(reference, got)

    # SQNR of each int8 tensor as its consumers see it; unmatched tensors inherit their producer's inputs'.
    known: dict[int, float | None] = {q_in["index"]: input_energy.channel_db() if input_energy.signal is not None
                                      else MAX_SQNR_DB}
    for index, energy in energies.items():
        known[index] = energy.channel_db()

    def upstream(index: int, depth: int = 0) -> float | None:
        if index in known or depth > 64:
            return known.get(index)
        producer = int8_graph.producer(index)
        if producer is None:
            return None
        values = [upstream(i, depth + 1) for i in producer.inputs
                  if i is not None and not int8_graph.tensor(i).is_constant]
        values = [v for v in values if v is not None]
        return min(values) if values else None

    rows = []
    for op in int8_graph.ops:
        index = op.outputs[0]
        if index not in energies:
            continue
        energy = energies[index]
        inputs = [upstream(i) for i in op.inputs if i is not None and not int8_graph.tensor(i).is_constant]
        inputs = [v for v in inputs if v is not None]
        input_db = min(inputs) if inputs else None
        channel_db = energy.channel_db()
        loss = max(0.0, input_db - channel_db) if input_db is not None and channel_db is not None else None
        rows.append({
            "index": op.index,
            "op": op.type,
            "tensor": short_name(int8_graph.tensor(index).name, 60),
            "shape": list(int8_graph.tensor(index).shape),
            "sqnr_db": _round(energy.tensor_db()),
            "channel_sqnr_db": _round(channel_db),
            "input_sqnr_db": _round(input_db),
            "loss_db": _round(loss),
            "worst": False,
            "flagged": loss is not None and loss >= FLAG_LOSS_DB,
        })
    ranked = [r for r in rows if r["loss_db"] is not None]
    if ranked:
        worst = max(ranked, key=lambda r: (r["loss_db"], -(r["channel_sqnr_db"] or 0.0)))
        worst["worst"] = True
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def worst_layers(rows: list[dict], count: int = 3) -> list[dict]:
    """The `count` layers that lose the most SQNR, worst first."""
    return sorted((r for r in rows if r["loss_db"] is not None), key=lambda r: -r["loss_db"])[:count]
