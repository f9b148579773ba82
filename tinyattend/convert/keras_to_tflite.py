"""Keras (.keras/.h5) models and SavedModel directories -> full-integer int8 TFLite. Layout is NHWC."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadModelError
from .int8_converter import quantize_int8
from .quiet import silenced


class TfSource:
    """A loaded TF model: its static input shape, a float runner, and a factory of its concrete function."""

    def __init__(self, path: Path, kind: str, input_shape, float_fn, make_concrete_function):
        self.path, self.kind, self.input_shape = path, kind, tuple(input_shape)
        self.float_fn, self.make_concrete_function = float_fn, make_concrete_function


def _static_shape(shape, given, where: str, name: str) -> tuple[int, ...]:
    dims = list(shape)
    if given is not None:
        if len(given) != len(dims):
            raise BadModelError(f"{where}: --input-shape has {len(given)} dimensions but input '{name}' has "
                                f"{len(dims)}", f"give {len(dims)} dimensions (NHWC for Keras/SavedModel)")
        clash = [(i, d, g) for i, (d, g) in enumerate(zip(dims, given)) if d is not None and d != g]
        if clash:
            i, d, g = clash[0]
            raise BadModelError(f"{where}: --input-shape sets dimension {i} to {g}; the model fixes it to {d}")
        return tuple(int(v) for v in given)
    if dims and dims[0] is None:
        dims[0] = 1                                   # Keras leaves the batch open: batch of one
    if any(d is None for d in dims):
        shown = ",".join("?" if d is None else str(d) for d in dims)
        raise BadModelError(f"{where}: input '{name}' has a dynamic shape [{shown}]",
                            "give a static shape with --input-shape, e.g. 1,96,96,3 (NHWC)")
    return tuple(int(d) for d in dims)


def load_keras(path: Path, input_shape, progress) -> TfSource:
    import tensorflow as tf
    try:
        import keras
        with progress.step(f"loading Keras model {path.name}"), silenced(progress):
            model = keras.models.load_model(path, compile=False)
    except Exception as err:   # noqa: BLE001 - Keras raises many types for bad files
        raise BadModelError(f"{path}: cannot load the Keras model ({type(err).__name__}: {str(err)[:300]})",
                            "save it with model.save('model.keras') from Keras 3, or give a SavedModel/ONNX") from None
    if len(model.inputs) != 1:
        raise BadModelError(f"{path}: the model has {len(model.inputs)} inputs; tinyattend supports exactly one",
                            "export a model with a single image input")
    shape = _static_shape(model.inputs[0].shape, input_shape, str(path), model.inputs[0].name)

    def float_fn(x):
        return keras.ops.convert_to_numpy(model(x.astype(np.float32), training=False))

    def make_concrete_function():
        spec = tf.TensorSpec(shape, tf.float32)
        function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        with silenced(progress):
            return function.get_concrete_function()

    return TfSource(path, "keras", shape, float_fn, make_concrete_function)


def load_saved_model(path: Path, input_shape, progress) -> TfSource:
    import tensorflow as tf
    try:
        with progress.step(f"loading SavedModel {path.name}"), silenced(progress):
            loaded = tf.saved_model.load(str(path))
    except Exception as err:   # noqa: BLE001
        raise BadModelError(f"{path}: not a loadable SavedModel directory ({type(err).__name__}: "
                            f"{str(err).splitlines()[0][:300] if str(err) else ''})",
                            "give the directory that holds saved_model.pb") from None
    signatures = list(loaded.signatures.keys())
    if not signatures:
        raise BadModelError(f"{path}: the SavedModel has no serving signature",
                            "save it with a signature (tf.saved_model.save(model, dir) on a Keras model adds one)")
    signature = loaded.signatures["serving_default" if "serving_default" in signatures else signatures[0]]
    args = signature.structured_input_signature[1]
    if len(args) != 1:
        raise BadModelError(f"{path}: the signature has {len(args)} inputs; tinyattend supports exactly one")
    arg_name, spec = next(iter(args.items()))
    shape = _static_shape(spec.shape.as_list(), input_shape, str(path), arg_name)

    def float_fn(x):
        outputs = signature(**{arg_name: tf.constant(x.astype(np.float32))})
        return np.asarray(next(iter(outputs.values())))

    def make_concrete_function():
        function = tf.function(lambda x: next(iter(signature(**{arg_name: x}).values())),
                               input_signature=[tf.TensorSpec(shape, tf.float32)])
        with silenced(progress):
            return function.get_concrete_function()

    source = TfSource(path, "saved_model", shape, float_fn, make_concrete_function)
    source.loaded = loaded      # owns the variables the signature's concrete function reads
    return source


def convert_tf(source: TfSource, calib_nhwc: np.ndarray, progress) -> tuple[bytes, bytes | None]:
    """(int8 TFLite, the float TFLite it was quantized from: the per-layer error's reference)."""
    return quantize_int8(source.make_concrete_function(), calib_nhwc, source.input_shape, progress,
                         str(source.path))
