"""Builders for small test models: ONNX graphs (NCHW) written with onnx.helper from numpy weights.

There is no torch or tf2onnx in the base install, so tests make their ONNX models here:
`OnnxBuilder` adds one node per call and returns the output tensor name; `ops_model()` holds every
op family the zoo needs; `keras_cnn_to_onnx()` exports a trained Keras Sequential CNN (NHWC) to an
equivalent NCHW ONNX graph (kernels HWIO -> OIHW); `train_digits_cnn()` trains one on sklearn's digits.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class OnnxBuilder:
    """Append nodes to one graph with a single NCHW float input."""

    def __init__(self, input_shape, name: str = "test_model", input_name: str = "input", seed: int = 0):
        self.name = name
        self.input_name = input_name
        self.input_shape = list(input_shape)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self._count = 0

    def _name(self, kind: str) -> str:
        self._count += 1
        return f"{kind.lower()}_{self._count}"

    def const(self, array: np.ndarray, kind: str = "w") -> str:
        name = self._name(kind)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        name = self._name(op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    # --- layers -----------------------------------------------------------------------------
    def conv(self, x: str, weight: np.ndarray, bias: np.ndarray | None = None, stride: int = 1,
             pad: int | None = None, group: int = 1) -> str:
        """weight OIHW (O, I/group, kh, kw); pad defaults to 'same' for odd kernels."""
        kh, kw = weight.shape[2:]
        pad = kh // 2 if pad is None else pad
        inputs = [x, self.const(weight.astype(np.float32))]
        if bias is not None:
            inputs.append(self.const(bias.astype(np.float32), "b"))
        return self.op("Conv", inputs, kernel_shape=[kh, kw], strides=[stride, stride],
                       pads=[pad, pad, pad, pad], group=group)

    def random_conv(self, x: str, cin: int, cout: int, k: int = 3, stride: int = 1, depthwise: bool = False) -> str:
        group = cin if depthwise else 1
        fan_in = (cin // group) * k * k
        w = self.rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cin // group, k, k)).astype(np.float32)
        b = self.rng.normal(0, 0.1, cout).astype(np.float32)
        return self.conv(x, w, b, stride=stride, group=group)

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def sigmoid(self, x: str) -> str:
        return self.op("Sigmoid", [x])

    def maxpool(self, x: str, k: int = 2, stride: int | None = None) -> str:
        return self.op("MaxPool", [x], kernel_shape=[k, k], strides=[stride or k] * 2)

    def avgpool(self, x: str, k: int = 2, stride: int | None = None) -> str:
        return self.op("AveragePool", [x], kernel_shape=[k, k], strides=[stride or k] * 2)

    def resize_nearest(self, x: str, scale: int = 2) -> str:
        """As PyTorch exports nn.Upsample(scale_factor, mode='nearest')."""
        scales = self.const(np.array([1, 1, scale, scale], np.float32), "scales")
        return self.op("Resize", [x, "", scales], mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def mul(self, a: str, b: str) -> str:
        return self.op("Mul", [a, b])

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def global_avg_pool(self, x: str) -> str:
        return self.op("GlobalAveragePool", [x])

    def reduce_mean(self, x: str, axes=(2, 3), keepdims: int = 0) -> str:
        return self.op("ReduceMean", [x], axes=list(axes), keepdims=keepdims)

    def flatten(self, x: str) -> str:
        return self.op("Flatten", [x], axis=1)

    def gemm(self, x: str, weight: np.ndarray, bias: np.ndarray) -> str:
        """weight (out, in) as torch.nn.Linear stores it."""
        return self.op("Gemm", [x, self.const(weight.astype(np.float32)), self.const(bias.astype(np.float32), "b")],
                       transB=1)

    def matmul(self, x: str, weight: np.ndarray) -> str:
        """weight (in, out)."""
        return self.op("MatMul", [x, self.const(weight.astype(np.float32))])

    def random_gemm(self, x: str, fin: int, fout: int) -> str:
        w = self.rng.normal(0, np.sqrt(1.0 / fin), (fout, fin)).astype(np.float32)
        return self.gemm(x, w, self.rng.normal(0, 0.1, fout).astype(np.float32))

    def build(self, output: str, output_shape=None, input_shape=None, extra_inputs=()) -> onnx.ModelProto:
        shape = self.input_shape if input_shape is None else input_shape
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, shape)]
            + [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in extra_inputs],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)],
            initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="tinyattend-tests")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return Path(path)


# --- models -------------------------------------------------------------------------------------
def ops_model(size: int = 32, channels: int = 3, classes: int = 10, seed: int = 0) -> onnx.ModelProto:
    """Conv, depthwise conv, max + avg pool, an attention condenser (max pool -> conv -> sigmoid ->
    nearest x2 -> mul), add, global mean, Gemm and MatMul: the op families of the zoo."""
    b = OnnxBuilder([1, channels, size, size], "ops_model", seed=seed)
    x = b.relu(b.random_conv(b.input_name, channels, 16, stride=2))           # CONV_2D (+ PAD)
    x = b.relu(b.random_conv(x, 16, 16, depthwise=True))                      # DEPTHWISE_CONV_2D
    a = b.maxpool(x)                                                          # MAX_POOL_2D
    a = b.random_conv(a, 16, 16, k=1)
    a = b.resize_nearest(b.sigmoid(a))                                        # LOGISTIC, RESIZE_NEAREST
    y = b.add(b.mul(x, a), x)                                                 # MUL, ADD
    y = b.avgpool(y)                                                          # AVERAGE_POOL_2D
    y = b.relu(b.random_conv(y, 16, 32, k=1))
    y = b.reduce_mean(y)                                                      # MEAN -> (1, 32)
    y = b.relu(b.random_gemm(y, 32, 24))                                      # FULLY_CONNECTED
    y = b.matmul(y, b.rng.normal(0, 0.2, (24, classes)).astype(np.float32))   # FULLY_CONNECTED
    return b.build(y, [1, classes])


def half_million_param_model(size: int = 64, seed: int = 0) -> onnx.ModelProto:
    """A ~0.5M-parameter CNN (stem, stride-2 stages, depthwise, GAP, FC) at size x size x 3."""
    b = OnnxBuilder([1, 3, size, size], "cnn_500k", seed=seed)
    x = b.relu(b.random_conv(b.input_name, 3, 32, stride=2))
    cin = 32
    for cout in (64, 128, 160):
        x = b.relu(b.random_conv(x, cin, cin, depthwise=True))
        x = b.relu(b.random_conv(x, cin, cout, k=1))
        x = b.relu(b.random_conv(x, cout, cout, stride=2))
        cin = cout
    x = b.relu(b.random_conv(x, cin, 256, k=1))
    x = b.flatten(b.global_avg_pool(x))
    x = b.random_gemm(x, 256, 100)
    return b.build(x, [1, 100])


def param_count(model: onnx.ModelProto) -> int:
    """Weights and biases (initializers other than Resize scales)."""
    return int(sum(np.prod(t.dims) for t in model.graph.initializer if not t.name.startswith("scales")))


def dynamic_input_model() -> onnx.ModelProto:
    b = OnnxBuilder([1, 3, 16, 16], "dynamic")
    y = b.reduce_mean(b.relu(b.random_conv(b.input_name, 3, 4)))
    return b.build(y, ["N", 4], input_shape=["N", 3, "H", "W"])


def two_input_model() -> onnx.ModelProto:
    b = OnnxBuilder([1, 3, 8, 8], "two_inputs")
    y = b.add(b.input_name, "second")
    return b.build(y, [1, 3, 8, 8], extra_inputs=["second"])


def unsupported_op_model(op_type: str = "Det") -> onnx.ModelProto:
    """A model with one op tinyattend does not support (default: Det, named 'det_2')."""
    b = OnnxBuilder([1, 1, 4, 4], "unsupported")
    y = b.op(op_type, [b.relu(b.input_name)])
    return b.build(y, [1, 1])


# --- a CNN trained on sklearn's digits --------------------------------------------------------------
def digits_dataset(size: int = 16):
    """sklearn's bundled 8x8 digits scaled to size x size, 0..1, NHWC float32; (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0                      # (1797, 8, 8), 0..1
    factor = size // 8
    images = images.repeat(factor, axis=1).repeat(factor, axis=2)[..., None]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    images, labels = images[order], digits.target[order]
    split = 1297
    return images[:split], labels[:split], images[split:], labels[split:]


def train_digits_cnn(size: int = 16, epochs: int = 25, seed: int = 0):
    """A small Keras CNN (conv, depthwise, pools, GAP, dense) trained for seconds; returns (model, test accuracy)."""
    import keras
    keras.utils.set_random_seed(seed)
    x_train, y_train, x_test, y_test = digits_dataset(size)
    model = keras.Sequential([
        keras.Input((size, size, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 1, activation="relu"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test))
    return model, accuracy


def keras_cnn_to_onnx(model, name: str = "keras_cnn") -> onnx.ModelProto:
    """Export a Keras Sequential CNN (Conv2D, DepthwiseConv2D, Max/AveragePooling2D, GlobalAveragePooling2D,
    Dense; relu/linear activations; 'same' padding with odd kernels or 'valid') to NCHW ONNX."""
    import keras
    _, h, w, c = model.input_shape
    b = OnnxBuilder([1, c, h, w], name)
    x = b.input_name
    for layer in model.layers:
        config = layer.get_config()
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel, bias = layer.get_weights()                       # (kh, kw, C, mult)
            kh, kw, cin, mult = kernel.shape
            weight = kernel.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None]   # (C*mult, 1, kh, kw)
            x = b.conv(x, weight, bias, stride=config["strides"][0],
                       pad=kh // 2 if config["padding"] == "same" else 0, group=cin)
        elif isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()                       # HWIO
            x = b.conv(x, kernel.transpose(3, 2, 0, 1), bias, stride=config["strides"][0],
                       pad=kernel.shape[0] // 2 if config["padding"] == "same" else 0)
        elif isinstance(layer, keras.layers.MaxPooling2D):
            x = b.maxpool(x, config["pool_size"][0], config["strides"][0])
        elif isinstance(layer, keras.layers.AveragePooling2D):
            x = b.avgpool(x, config["pool_size"][0], config["strides"][0])
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            x = b.reduce_mean(x, (2, 3), keepdims=0)
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()                       # (in, out)
            x = b.gemm(x, kernel.T, bias)
        else:
            raise NotImplementedError(f"keras_cnn_to_onnx: layer {layer.__class__.__name__}")
        activation = config.get("activation", "linear")
        if activation == "relu":
            x = b.relu(x)
        elif activation != "linear":
            raise NotImplementedError(f"keras_cnn_to_onnx: activation {activation}")
    return b.build(x, [1, model.output_shape[-1]])


def div_model() -> onnx.ModelProto:
    """x / (1 + sigmoid(conv(x))): ONNX Div of two tensors, which has no int8 TFLite kernel."""
    b = OnnxBuilder([1, 3, 8, 8], "divide")
    y = b.random_conv(b.input_name, 3, 3)
    denominator = b.add(b.sigmoid(y), b.const(np.ones((1, 3, 1, 1), np.float32), "one"))
    return b.build(b.reduce_mean(b.op("Div", [y, denominator])), [1, 3])


def float_tflite(hybrid: bool = False) -> bytes:
    """A small float TFLite model (dense 64 -> 64 -> 10); `hybrid`: dynamic-range quantized weights."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(0, 0.1, (64, 64)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.1, (64, 10)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32)])
    def forward(x):
        return tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()])
    if hybrid:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def cast_model() -> onnx.ModelProto:
    """conv -> Cast to int32 -> Cast to float: accepted by onnx2tf, but CAST has no int8 TFLite kernel."""
    b = OnnxBuilder([1, 3, 8, 8], "cast")
    y = b.op("Cast", [b.random_conv(b.input_name, 3, 3)], to=TensorProto.INT32)
    y = b.op("Cast", [y], to=TensorProto.FLOAT)
    return b.build(b.reduce_mean(y), [1, 3])


def crop_and_resize_model() -> onnx.ModelProto:
    """Resize with coordinate_transformation_mode tf_crop_and_resize: passes the op table, fails in onnx2tf."""
    b = OnnxBuilder([1, 3, 8, 8], "crop_resize")
    roi = b.const(np.array([0, 0, 0.1, 0.1, 1, 1, 0.9, 0.9], np.float32), "roi")
    scales = b.const(np.array([1, 1, 2, 2], np.float32), "scales")
    y = b.op("Resize", [b.input_name, roi, scales], mode="nearest",
             coordinate_transformation_mode="tf_crop_and_resize")
    return b.build(b.reduce_mean(y), [1, 3])


def rewrite_keeps_function(model: onnx.ModelProto, rewrite, shape) -> onnx.ModelProto:
    """Apply `rewrite` (a model -> model ONNX rewrite) to a copy of `model`, whose input is "x" of `shape`;
    assert ONNX Runtime gives the same output before and after, exactly. Returns the rewritten model."""
    import onnxruntime as ort

    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)

    def run(m):
        return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    expected = run(model)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    rewritten = rewrite(copy)
    np.testing.assert_array_equal(run(rewritten), expected)
    return rewritten
