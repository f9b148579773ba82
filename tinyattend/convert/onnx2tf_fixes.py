"""Corrections to onnx2tf's layout handling, applied only while our converter runs onnx2tf.

ConvTranspose whose input lost its NHWC layout (onnx2tf 1.29)
------------------------------------------------------------
onnx2tf keeps image tensors NHWC, but after a Reshape that builds a 4-D map from a non-image tensor
(attention's `[N, heads, d, T] -> [N, heads*d, H, W]`, as in LowFormer) the TF tensor keeps the ONNX
(NCHW) order. onnx2tf's Conv handler notices this (TF shape == ONNX shape) and transposes the input to
NHWC; its ConvTranspose handler does not. It calls tf.nn.conv2d_transpose on the NCHW tensor and, when
that raises, searches all 24 x 24 permutations of input and filter for the first pair that passes TF's
*static* shape checks, taking the input unpermuted whenever some filter axis happens to equal the NCHW
tensor's last axis (W). With a 4x4 kernel on a 4x4 map (lowformer-micro's stage-3 attention at 128x128)
it picks filter permutation [kh, Cout, Cin, kw]: a graph that is wrong, fails when run in TF, and after
TFLite conversion gives a TRANSPOSE_CONV with input [1, Cin, 4, 4] (NCHW), weights [Cin, 4, Cout, 4]
instead of [Cout, 4, 4, Cin], which the interpreter refuses to prepare. A lone ConvTranspose reads the
graph input (NHWC) and never reaches the search.

The fix does what onnx2tf's Conv handler does: when a ConvTranspose's TF input has the ONNX NCHW shape and
its channel axis does not carry the weights' input channels, transpose it to NHWC before onnx2tf's
handler runs. Where the shapes cannot tell (C == W) nothing changes; `check_tf_model` then catches a
wrong graph by running it.

PReLU with one slope per channel (onnx2tf 2.6.9)
------------------------------------------------
onnx2tf's PRelu handler builds `PReLU(weights=slope, shared_axes=...)` with the slope as one tensor,
but Keras reads `weights` as a list of weight arrays: the layer takes slope[0] (shape [1, C] for a
[1, 1, C] slope) and raises "Layer weight shape (1, 1, C) not compatible with provided weight shape
(1, C)". onnx2tf then falls back to relu(x) + (x - |x|) * slope / 2, which the int8 converter turns
into ABS, SUB, MUL, RELU and ADD instead of one PRELU. The fix passes the slope as a one-element list,
reshaped to the layer's alpha shape when the layer is built (a single slope arrives as [1, 1, 1, 1]).
"""
from __future__ import annotations

import contextlib

import numpy as np


def _static(shape) -> list[int] | None:
    if shape is None:
        return None
    dims = [d if isinstance(d, (int, np.integer)) else None for d in shape]
    return None if any(d is None for d in dims) else [int(d) for d in dims]


def channels_first_input(onnx_shape, tf_shape, in_channels: int | None) -> bool:
    """True when a conv-like op's TF input is still in ONNX channels-first order (N, C, spatial...)."""
    onnx_shape, tf_shape = _static(onnx_shape), _static(tf_shape)
    if onnx_shape is None or tf_shape is None or len(onnx_shape) < 3 or onnx_shape != tf_shape:
        return False
    channels_last = [onnx_shape[0], *onnx_shape[2:], onnx_shape[1]]
    if channels_last == onnx_shape:
        return False                                  # C equals every spatial size: cannot tell
    if in_channels is not None:
        return tf_shape[-1] != in_channels and tf_shape[1] == in_channels
    return True


def _patched_conv_transpose(original):
    def make_node(*, graph_node, tf_layers_dict, **kwargs):
        import tensorflow as tf

        source = graph_node.inputs[0]
        entry = tf_layers_dict.get(source.name)
        weights = graph_node.inputs[1]
        weight_shape = _static(getattr(weights, "shape", None))
        in_channels = weight_shape[0] if weight_shape else None     # ONNX ConvTranspose W: [Cin, Cout/g, k...]
        tf_node = entry.get("tf_node") if isinstance(entry, dict) else None
        if tf_node is None or not channels_first_input(source.shape, getattr(tf_node, "shape", None), in_channels):
            return original(graph_node=graph_node, tf_layers_dict=tf_layers_dict, **kwargs)
        rank = len(tf_node.shape)
        fixed = dict(entry, tf_node=tf.transpose(tf_node, perm=[0, *range(2, rank), 1]))
        tf_layers_dict[source.name] = fixed
        try:
            return original(graph_node=graph_node, tf_layers_dict=tf_layers_dict, **kwargs)
        finally:
            tf_layers_dict[source.name] = entry       # other consumers see onnx2tf's own tensor
    return make_node


def _prelu_with_listed_weights(layer_class):
    class PReLUWithSlope(layer_class):
        """onnx2tf's PReLU, its slope given as a weight list and reshaped to the layer's alpha once built."""

        def __init__(self, *, weights, **kwargs):
            super().__init__(weights=[np.asarray(weights)], **kwargs)

        def build(self, input_shape):
            super().build(input_shape)
            self._initial_weights = [np.reshape(w, self.alpha.shape) for w in self._initial_weights]
    return PReLUWithSlope


@contextlib.contextmanager
def onnx2tf_layout_fixes():
    """Install the corrections above for the duration of one onnx2tf.convert call."""
    import importlib

    conv_transpose = importlib.import_module("onnx2tf.ops.ConvTranspose")
    prelu = importlib.import_module("onnx2tf.ops.PRelu")
    original_conv_transpose, original_prelu = conv_transpose.make_node, prelu.PReLU
    conv_transpose.make_node = _patched_conv_transpose(original_conv_transpose)
    prelu.PReLU = _prelu_with_listed_weights(original_prelu)
    try:
        yield
    finally:
        conv_transpose.make_node = original_conv_transpose
        prelu.PReLU = original_prelu
