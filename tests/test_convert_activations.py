"""The activation and simple ops of today's mobile nets, from ONNX to bit-exact C (issue 14).

HardSigmoid (RELU_0_TO_1), exact and tanh GELU, per-channel PReLU, linear/cubic/nearest Resize and
MaxPool with ceil_mode: the pre-check accepts exactly the forms that convert, and a model holding them
converts through onnx2tf and the TFLite converter and runs bit-exact on the host (against LiteRT's
reference kernels where the model has an op TFLM lacks, as report.json's `oracle` says).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import helper

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import model_factory as mf
from op_harness import assert_bit_exact, op_types
from tinyattend.convert import convert_model
from tinyattend.convert.onnx_checks import GraphIndex, node_problem


def _resize_problem(mode, transform=None, nearest=None, scales=(1, 1, 2, 2)):
    b = mf.OnnxBuilder([1, 3, 8, 8])
    attrs = {"mode": mode}
    if transform:
        attrs["coordinate_transformation_mode"] = transform
    if nearest:
        attrs["nearest_mode"] = nearest
    scale = b.const(np.array(scales, np.float32), "scales")
    node = helper.make_node("Resize", [b.input_name, "", scale], ["y"], **attrs)
    graph = helper.make_graph([node], "g", [], [], b.initializers)
    return node_problem(node, GraphIndex(graph))


@pytest.mark.parametrize("mode,transform,nearest,scales", [
    ("linear", None, None, (1, 1, 2, 2)),                          # ONNX default: half_pixel
    ("linear", "pytorch_half_pixel", None, (1, 1, 1.5, 1.5)),      # torch bilinear, align_corners=False
    ("linear", "align_corners", None, (1, 1, 0.5, 0.5)),
    ("linear", "asymmetric", None, (1, 1, 3, 3)),
    ("cubic", "half_pixel", None, (1, 1, 2, 2)),
    ("nearest", "asymmetric", "floor", (1, 1, 1.5, 1.5)),          # torch nn.Upsample(mode='nearest')
    ("nearest", "align_corners", "round_prefer_ceil", (1, 1, 2, 2)),
    ("nearest", None, None, (1, 1, 2, 2)),                         # ONNX defaults, whole factor
])
def test_precheck_accepts_resize_forms_that_convert(mode, transform, nearest, scales):
    assert _resize_problem(mode, transform, nearest, scales) is None


@pytest.mark.parametrize("mode,transform,nearest,scales,words", [
    ("nearest", None, None, (1, 1, 1.5, 1.5), "nearest_mode 'round_prefer_floor'"),   # not a whole factor
    ("nearest", "half_pixel", "floor", (1, 1, 2, 2), "'asymmetric', nearest_mode 'floor'"),
    ("nearest", "pytorch_half_pixel", "floor", (1, 1, 3, 3), "picks source pixels"),
    ("linear", "tf_half_pixel_for_nn", None, (1, 1, 2, 2), "use one of half_pixel"),
])
def test_precheck_refuses_resize_forms_onnx2tf_gets_wrong(mode, transform, nearest, scales, words):
    """These convert in onnx2tf but disagree with ONNX Runtime (checked by hand: its check_tf_model
    stops them after minutes); the pre-check says so at once, with the export that works."""
    problem = _resize_problem(mode, transform, nearest, scales)
    assert problem is not None and words in problem


def test_precheck_accepts_ceil_mode_pooling():
    b = mf.OnnxBuilder([1, 3, 9, 9])
    for op in ("MaxPool", "AveragePool"):
        node = helper.make_node(op, [b.input_name], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
        assert node_problem(node, GraphIndex(helper.make_graph([node], "g", [], []))) is None


def mobile_ops_model() -> "onnx.ModelProto":  # noqa: F821
    """Conv -> HardSigmoid gate (SE-style, MUL) -> per-channel PReLU -> MaxPool 3x3/2 ceil_mode (11 -> 6) ->
    exact GELU (torch's operand order) -> bilinear Resize to 9x7 (pytorch_half_pixel) -> nearest x2 ->
    Conv. Channels (5, 6) differ from every spatial size so that onnx2tf's layout guesses cannot err."""
    b = mf.OnnxBuilder([1, 3, 11, 11], "mobile_ops", seed=3)
    x = b.random_conv(b.input_name, 3, 5)
    gate = b.op("HardSigmoid", [b.random_conv(x, 5, 5, k=1)], alpha=1 / 6, beta=0.5)
    x = b.mul(x, gate)
    x = b.op("PRelu", [x, b.const(np.linspace(-0.3, 0.8, 5, dtype=np.float32).reshape(5, 1, 1), "slope")])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = b.random_conv(x, 5, 6, k=1)
    erf = b.op("Erf", [b.op("Div", [x, b.const(np.array(np.sqrt(2), np.float32), "sqrt2")])])
    x = b.mul(b.mul(x, b.add(erf, b.const(np.array(1, np.float32), "one"))), b.const(np.array(0.5, np.float32), "half"))
    sizes = b.const(np.array([1, 6, 9, 7], np.int64), "sizes")
    x = b.op("Resize", [x, "", "", sizes], mode="linear", coordinate_transformation_mode="pytorch_half_pixel")
    x = b.resize_nearest(x, 2)
    return b.build(b.random_conv(x, 6, 4, k=1), [1, 4, 18, 14])


@pytest.mark.slow
def test_mobile_ops_convert_and_run_bit_exact(tmp_path):
    path = mf.save(mobile_ops_model(), tmp_path / "mobile_ops.onnx")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).normal(size=(24, 3, 11, 11)).astype(np.float32))
    result = convert_model(path, calib=str(calib), progress=False)
    ops = op_types(result.tflite)
    for op in ("RELU_0_TO_1", "PRELU", "MAX_POOL_2D", "GELU", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        assert op in ops, f"{op} missing from {ops}"
    assert not {"ABS", "DEQUANTIZE", "QUANTIZE", "ERF"} & set(ops), ops      # one PRELU, no float island
    report = assert_bit_exact(result.tflite, tmp_path / "out", samples=30)
    assert report["oracle"]["model"] == "tflm+litert-builtin-ref-tables"
    assert report["oracle"]["ops"]["GELU"] == "litert-builtin-ref" and report["oracle"]["ops"]["PRELU"] == "tflm"


@pytest.mark.slow
def test_torch_block_with_hardsigmoid_and_gelu(tmp_path):
    """A MobileNetV3 / RepViT-style block exported by torch (opset 17): squeeze-excite with
    nn.Hardsigmoid, nn.Hardswish, nn.GELU exact and tanh-approximate, converted and bit-exact on the host."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.expand, self.dw = nn.Conv2d(3, 12, 1), nn.Conv2d(12, 12, 3, padding=1, groups=12)
            self.se_reduce, self.se_expand = nn.Conv2d(12, 4, 1), nn.Conv2d(4, 12, 1)
            self.mix, self.project = nn.Conv2d(12, 12, 1), nn.Conv2d(12, 8, 1)
            self.hardswish, self.hardsigmoid = nn.Hardswish(), nn.Hardsigmoid()
            self.gelu, self.gelu_tanh = nn.GELU(), nn.GELU(approximate="tanh")

        def forward(self, x):
            x = self.hardswish(self.dw(self.expand(x)))
            scale = self.hardsigmoid(self.se_expand(torch.relu(self.se_reduce(x.mean((2, 3), keepdim=True)))))
            x = self.gelu(self.mix(x * scale))
            return self.project(self.gelu_tanh(x))

    torch.manual_seed(0)
    path = tmp_path / "block.onnx"
    torch.onnx.export(Block().eval(), (torch.randn(1, 3, 16, 16),), str(path), opset_version=17, dynamo=False,
                      input_names=["image"], output_names=["out"])
    result = convert_model(path, progress=False)
    ops = op_types(result.tflite)
    assert {"RELU_0_TO_1", "GELU", "HARD_SWISH", "TANH"} <= set(ops), ops     # the tanh GELU stays MUL/ADD/TANH
    report = assert_bit_exact(result.tflite, tmp_path / "out", samples=20, kernels="fast")
    assert report["oracle"]["model"] == "tflm+litert-builtin-ref-tables"


@pytest.mark.slow
def test_conv_weight_shared_through_identity_converts(tmp_path):
    """torch exports equal initializers once and gives later users an Identity of them (RepViT's folded
    conv weights); onnx2tf built such a Conv with the wrong channel count (onnx_rewrites turns the
    Identity into an initializer)."""
    b = mf.OnnxBuilder([1, 3, 12, 12], "shared_weight", seed=5)
    x = b.random_conv(b.input_name, 3, 12, k=1)
    shared = b.const(b.rng.normal(0, 0.3, (6, 12, 1, 1)).astype(np.float32), "w_shared")
    x = b.op("Conv", [x, shared], kernel_shape=[1, 1])
    x = b.random_conv(x, 6, 12, k=1)
    alias = b.op("Identity", [shared])
    y = b.op("Conv", [x, alias, b.const(np.linspace(-1, 1, 6, dtype=np.float32), "bias")], kernel_shape=[1, 1])
    path = mf.save(b.build(y, [1, 6, 12, 12]), tmp_path / "shared.onnx")
    result = convert_model(path, progress=False)
    assert op_types(result.tflite).count("CONV_2D") == 4
    assert_bit_exact(result.tflite, tmp_path / "out", samples=10)


def test_precheck_refuses_crop_and_resize():
    """onnx2tf 2.6.9 turns it into tf.CropAndResize, which the TFLite converter cannot take (after
    minutes of conversion and calibration): the pre-check says so first."""
    model = mf.crop_and_resize_model()
    (node,) = [n for n in model.graph.node if n.op_type == "Resize"]
    problem = node_problem(node, GraphIndex(model.graph))
    assert problem is not None and "CropAndResize" in problem
