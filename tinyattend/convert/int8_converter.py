"""The TFLite converter call that makes a full-integer int8 model, and its error translation.

int8 input and output, TFLITE_BUILTINS_INT8 only (an op without an int8 kernel fails the conversion
instead of falling back to float), per-channel int8 conv weights, int32 bias; calibrated on float NHWC
samples by `ranges` (not TF's calibrator, which took 69 ms a sample for attendnext-micro), then TF's own
MLIR quantizer, as TF's converter does it.
"""
from __future__ import annotations

import re
import time

import numpy as np

from ..errors import UnsupportedOpError
from ..progress import cpu_seconds
from .quiet import silenced


def int8_converter_class():
    """tf.lite.TFLiteConverter, calibrating with `ranges.calibrated` instead of TF's calibrator, and
    keeping the float model it calibrated (`float_model`): the per-layer error's reference, the same
    graph the int8 model was quantized from, so no second conversion is needed."""
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    from .ranges import calibrated

    class Int8Converter(tf.lite.TFLiteConverter):
        samples_nhwc = None
        progress = None
        started = started_cpu = 0.0
        float_model = None

        def _quantize(self, result, input_type, output_type, activations_type, bias_type, allow_float,
                      enable_variable_quantization, debug_options):
            # TF's own _quantize runs its calibrator here and then this same MLIR quantizer call.
            self.progress.done("converting the TF graph to float TFLite", time.monotonic() - self.started,
                               cpu_seconds() - self.started_cpu)
            self.float_model = result
            with self.progress.bar("calibrating", len(self.samples_nhwc)) as bar:
                model = calibrated(result, self.samples_nhwc, bar)
            start, start_cpu = time.monotonic(), cpu_seconds()
            quantized = mlir_quantize(
                model,
                self._experimental_disable_per_channel,
                input_data_type=input_type,
                output_data_type=output_type,
                enable_variable_quantization=enable_variable_quantization,
                disable_per_channel_for_dense_layers=self._experimental_disable_per_channel_quantization_for_dense_layers,
                debug_options_str=debug_options.SerializeToString())
            self.progress.done("quantizing to int8 (TF's MLIR quantizer)", time.monotonic() - start,
                               cpu_seconds() - start_cpu)
            return quantized

    return Int8Converter


def quantize_int8(concrete_function, samples_nhwc: np.ndarray, input_shape, progress,
                  where: str) -> tuple[bytes, bytes | None]:
    """(int8 TFLite, the float TFLite it was quantized from) of a tf ConcreteFunction;
    `samples_nhwc` (N, ...) calibrate it."""
    import tensorflow as tf

    with silenced(progress):
        converter = int8_converter_class().from_concrete_functions([concrete_function])
    # Without a trackable object TF converts the concrete function directly; with one (a Keras model) it
    # first saves and reloads a SavedModel, which serialises every Keras layer's config: 20+ s of the
    # attendnext-micro conversion, for the same graph.
    converter.experimental_lower_to_saved_model = False
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    batch_shape = tuple(input_shape)
    converter.samples_nhwc = np.ascontiguousarray(samples_nhwc, np.float32).reshape((-1, *batch_shape[1:]))
    # TF decides on full-integer quantization by the presence of a representative dataset; the samples
    # themselves are read by Int8Converter._quantize.
    converter.representative_dataset = lambda: iter([[converter.samples_nhwc[:1]]])
    converter.progress, converter.started, converter.started_cpu = progress, time.monotonic(), cpu_seconds()
    try:
        with silenced(progress) as captured:
            tflite = converter.convert()
    except Exception as err:   # noqa: BLE001 - the converter raises many types; all become one error
        raise translate_converter_error(err, captured.tail(), where) from None
    return tflite, converter.float_model


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
