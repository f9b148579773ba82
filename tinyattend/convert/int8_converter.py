"""The TFLite converter call that makes a full-integer int8 model, and its error translation.

int8 input and output, TFLITE_BUILTINS_INT8 only (an op without an int8 kernel fails the conversion
instead of falling back to float), per-channel int8 conv weights, int32 bias; calibrated on a
representative dataset of float NHWC samples.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import UnsupportedOpError
from .quiet import silenced


def quantize_int8(converter, samples_nhwc: np.ndarray, input_shape, progress, where: str) -> bytes:
    """Run `converter` (a tf.lite.TFLiteConverter) with full-int8 settings; `samples_nhwc` (N, ...)."""
    import tensorflow as tf

    bar = progress.bar("calibrating", len(samples_nhwc))
    batch_shape = tuple(input_shape)

    def representative_dataset():
        for sample in samples_nhwc:
            bar.update()
            yield [sample.reshape(batch_shape).astype(np.float32)]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter.representative_dataset = representative_dataset
    try:
        with silenced(progress) as captured:
            try:
                return converter.convert()
            finally:
                bar.close()
    except Exception as err:   # noqa: BLE001 - the converter raises many types; all become one error
        raise translate_converter_error(err, captured.tail(), where) from None


_TF_OP = re.compile(r"'(tf\.[A-Za-z0-9_]+|tfl\.[A-Za-z0-9_]+)' op")
_LOC = re.compile(r'loc\((?:fused\[)?(?:callsite\()?"([^"]+)"')


def translate_converter_error(err: Exception, log: str, where: str) -> UnsupportedOpError:
    """Name the op (and location) the TFLite converter could not make int8."""
    text = f"{err}\n{log}"
    ops = sorted(set(_TF_OP.findall(text)))
    locations = sorted(set(_LOC.findall(text)))[:5]
    first = next((line.strip() for line in str(err).splitlines()
                  if "error" in line.lower() or "not supported" in line.lower()), str(err).strip().splitlines()[0]
                  if str(err).strip() else type(err).__name__)
    if ops:
        message = (f"{where}: the int8 TFLite converter cannot handle op(s) {', '.join(ops)}"
                   + (f" at {', '.join(locations)}" if locations else "") + f"\n    converter said: {first[:400]}")
    else:
        message = f"{where}: the int8 TFLite converter failed: {first[:400]}"
    return UnsupportedOpError(
        message,
        "replace the op in the model (tinyattend needs every op in int8 TFLite builtins), "
        "or check that the model runs in float first",
        ops=[(op, loc, "no int8 TFLite builtin") for op in ops for loc in (locations[:1] or [""])])
