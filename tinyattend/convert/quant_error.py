"""Quantization error: the float model against the int8 TFLite model on held-out samples.

The float model runs in its own runtime (onnxruntime for ONNX, TensorFlow for Keras/SavedModel) on
float samples in its own layout; the int8 model runs in LiteRT on the same samples, quantized with
the TFLite input's scale/zero point and in its layout (NHWC); its int8 output is dequantized.
top1_agreement is the fraction of samples whose argmax (over the last axis) agrees; top1_tied the fraction
where it does not only because the int8 output ties at its top (classes less than an output step apart,
as an untrained model's are), the float model's class among those tied. Absolute errors
mean nothing without the output's scale, so the summary also states them relative to it:
sqnr_db = 10 log10(sum(float^2) / sum((float - int8)^2)) over all held-out outputs, and
max_error_over_range = max |err| / (max - min of the float outputs).

Both models run on LiteRT's builtin kernels without the XNNPACK delegate: XNNPACK refuses some graphs
("failed to create XNNPACK runtime", torchvision's ResNet-18 at 96x96), and this is a measurement, not
the oracle (TFLM is, in `tinyattend verify`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .calibration import dequantize, quantize


def int8_interpreter(tflite: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .quiet import silenced
    with silenced():
        interpreter = Interpreter(model_content=tflite,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
    return interpreter


def run_int8(interpreter, x_int8: np.ndarray) -> np.ndarray:
    """One int8 input (batch shape included) -> the raw int8 output."""
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    interpreter.set_tensor(inp["index"], x_int8.reshape(inp["shape"]))
    interpreter.invoke()
    return interpreter.get_tensor(out["index"]).copy()


def quantization_error(float_fn: Callable[[np.ndarray], np.ndarray], tflite: bytes, held_out: np.ndarray,
                       perm: tuple[int, ...] | None, progress,
                       references: Sequence[np.ndarray] | None = None, interpreter=None) -> dict | None:
    """Compare on `held_out` (N, ...) float samples in the float model's layout.

    `float_fn` maps one batch-of-1 float input to the float output; `perm` moves the float layout to
    the TFLite one (None if the same). Output layouts are matched by the same permutation when the
    output is an image-like tensor whose shape needs it. `references`: float_fn's outputs for the
    held-out samples, when they were computed earlier (float_reference_outputs), else computed here.
    `interpreter`: int8_interpreter(tflite), if made already (it is made with the process's output
    silenced, so in the thread that may do that).
    """
    if len(held_out) == 0:
        return None
    interpreter = interpreter or int8_interpreter(tflite)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    ref_list, got_list = [], []
    bar = progress.bar("quantization error on held-out samples", len(held_out))
    with bar:
        for i, sample in enumerate(held_out):
            x = sample[None]
            reference = references[i] if references is not None else np.asarray(float_fn(x), np.float32)
            ref_shape = reference.shape
            x_tfl = x if perm is None else np.transpose(x, perm)
            q = quantize(x_tfl, in_scale, in_zero)
            got = dequantize(run_int8(interpreter, q), out_scale, out_zero)
            got = _match_layout(got, reference.shape, perm)
            ref_list.append(reference.reshape(-1))
            got_list.append(got.reshape(-1))
            bar.update()
    reference, got = np.stack(ref_list), np.stack(got_list)
    last = ref_shape[-1] if ref_shape else 1
    ref_last = reference.reshape(len(held_out), -1, last)
    got_last = got.reshape(ref_last.shape)
    agreement, tied = top1_agreement(ref_last, got_last)
    error = np.abs(reference - got)
    span = float(reference.max() - reference.min())
    return {
        "samples": int(len(held_out)),
        "top1_agreement": round(agreement, 6),
        "top1_tied": round(tied, 6),       # samples whose int8 top value is shared by the float top class
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
        "output_range": [float(reference.min()), float(reference.max())],
        "sqnr_db": output_sqnr_db(reference, got),
        "max_error_over_range": float(error.max()) / span if span > 0 else None,
    }


def top1_agreement(reference: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    """(fraction of rows whose argmax over the last axis agree, fraction that disagree only by a tie).
    int8 outputs a step apart or less tie: argmax takes the first, which need not be the float model's
    class although the int8 output at that class is as high as any."""
    float_top, int8_top = np.argmax(reference, -1), np.argmax(got, -1)
    at_float_top = np.take_along_axis(got, float_top[..., None], -1)[..., 0]
    tied = (at_float_top == got.max(-1)) & (float_top != int8_top)
    return float(np.mean(float_top == int8_top)), float(np.mean(tied))


def float_reference_outputs(float_fn: Callable[[np.ndarray], np.ndarray], held_out: np.ndarray) -> list[np.ndarray]:
    """float_fn's output for each held-out sample (batch of 1), as quantization_error uses them."""
    return [np.asarray(float_fn(sample[None]), np.float32) for sample in held_out]


def output_sqnr_db(reference: np.ndarray, got: np.ndarray) -> float | None:
    """10 log10(signal power / noise power), rounded to 0.01 dB; 100 dB for an exact match (capped),
    None when the float output is all zeros."""
    signal = float(np.sum(np.square(reference, dtype=np.float64)))
    noise = float(np.sum(np.square(reference.astype(np.float64) - got)))
    if signal <= 0.0:
        return None
    return round(min(100.0, 10.0 * np.log10(signal / noise)) if noise > 0 else 100.0, 2)


def describe(q: dict) -> str:
    """One line for people: error relative to the output first, then the absolute figures."""
    parts = []
    if q.get("sqnr_db") is not None:
        parts.append(f"SQNR {q['sqnr_db']:.1f} dB")
    if q.get("max_error_over_range") is not None:
        low, high = q["output_range"]
        parts.append(f"max |err| {100 * q['max_error_over_range']:.2g}% of the output range "
                     f"({q['max_abs_error']:.3g} over [{low:.3g}, {high:.3g}])")
    else:
        parts.append(f"max |err| {q['max_abs_error']:.4g} (the float output is constant)")
    parts.append(f"mean |err| {q['mean_abs_error']:.3g}")
    tied = q.get("top1_tied") or 0.0
    parts.append(f"top-1 agreement {100 * q['top1_agreement']:.1f}%"
                 + (f" (+{100 * tied:.1f}% tied at the int8 output's step)" if tied else ""))
    return f"int8 vs float on {q['samples']} held-out samples: " + ", ".join(parts)


def _match_layout(got: np.ndarray, ref_shape, perm) -> np.ndarray:
    if tuple(got.shape) == tuple(ref_shape) or perm is None or got.ndim != len(ref_shape):
        return got
    rank = got.ndim
    back = (0, rank - 1) + tuple(range(1, rank - 1))         # NHWC -> NCHW
    moved = np.transpose(got, back)
    return moved if tuple(moved.shape) == tuple(ref_shape) else got
