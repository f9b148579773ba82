"""The model zoo: exports match PyTorch in ONNX Runtime, counts match the papers, demo model accuracy."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"
HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (pip install torch==2.13.0)")

ZOO = ("attendnets", "attendnets-micro", "attendnext", "attendnext-micro", "attendnext-digits",
       "lowformer-b0", "lowformer-b1", "lowformer-b1.5", "lowformer-b3", "lowformer-micro")
MCU = ("attendnets-micro", "attendnext-micro", "lowformer-micro")
# ops the exported MCU variants may contain: all map to TFLM kernels
MCU_ONNX_OPS = {"Conv", "Relu", "Clip", "MaxPool", "Sigmoid", "Mul", "Resize", "Add", "GlobalAveragePool",
                "Flatten", "Gemm", "HardSwish", "Transpose", "Reshape", "MatMul", "Softmax", "Slice",
                "ConvTranspose", "BatchNormalization", "Constant"}


def _randomize_norms(model, seed=0):
    """Non-trivial BatchNorm statistics and affine terms, so folding is actually exercised."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm)):
                if getattr(m, "running_mean", None) is not None:
                    m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                    m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                if m.weight is not None:
                    m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


@needs_torch
@pytest.mark.parametrize("name", ZOO)
def test_export_matches_pytorch(name, tmp_path):
    import onnx
    import onnxruntime as ort
    import torch

    from tinyattend.zoo.export import export_model
    from tinyattend.zoo.registry import get_entry

    entry = get_entry(name)
    size = entry.input_size if entry.mcu else entry.test_size
    torch.manual_seed(0)
    model = entry.build_for(size).eval()
    _randomize_norms(model)
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        expected = model(x).numpy()
    path = export_model(model, tmp_path / f"{name}.onnx", size)

    graph = onnx.load(str(path)).graph
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, size, size]
    ops = {n.op_type for n in graph.node}
    assert "Tile" not in ops and "Identity" not in ops
    for node in graph.node:
        if node.op_type == "Resize":
            mode = [a.s for a in node.attribute if a.name == "mode"]
            assert mode == [b"nearest"]
    if entry.mcu:
        assert ops <= MCU_ONNX_OPS, f"non-TFLM ops in {name}: {ops - MCU_ONNX_OPS}"
        assert not {"Erf", "InstanceNormalization", "LayerNormalization"} & ops

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(expected).max()))


@needs_torch
@pytest.mark.parametrize("name", ["lowformer-b0", "lowformer-b1", "lowformer-b1.5", "lowformer-b3"])
def test_lowformer_counts_match_paper(name):
    from tinyattend.zoo.counter import count_builder
    from tinyattend.zoo.registry import get_entry

    entry = get_entry(name)
    count = count_builder(entry.build, (224, 224))
    params, macs = entry.published
    assert abs(count.params / params - 1) < 0.01, count
    assert abs(count.macs / macs - 1) < 0.01, count


@needs_torch
def test_attendnext_full_size_budget():
    from tinyattend.zoo.counter import count_builder
    from tinyattend.zoo.registry import get_entry

    entry = get_entry("attendnext")
    count = count_builder(entry.build, (224, 224))
    assert count.params <= 3.9e6


@needs_torch
def test_dcac_shapes_and_upsample_export(tmp_path):
    import onnx
    import torch

    from tinyattend.zoo.blocks import DoubleCondensingAttentionCondenser, VisualAttentionCondenser
    from tinyattend.zoo.export import export_model

    x = torch.rand(1, 16, 8, 8)
    assert DoubleCondensingAttentionCondenser(16)(x).shape == x.shape
    assert VisualAttentionCondenser(16)(x).shape == x.shape

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 16, 1)
            self.dcac = DoubleCondensingAttentionCondenser(16)

        def forward(self, x):
            return self.dcac(self.conv(x))

    path = export_model(Wrap(), tmp_path / "dcac.onnx", 8)
    resize = [n for n in onnx.load(str(path)).graph.node if n.op_type == "Resize"]
    assert len(resize) == 1


@needs_torch
def test_zoo_list_prints_every_model(capsys):
    from tinyattend.cli import main

    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    for name in ZOO:
        assert any(line.split()[0] == name for line in out.splitlines() if line.strip()), name


@needs_torch
def test_zoo_export_cli_and_unknown_name(tmp_path, capsys):
    import onnx
    import torch

    from tinyattend.cli import main
    from tinyattend.zoo.registry import get_entry

    weights = tmp_path / "w.pt"
    torch.save(get_entry("attendnext-digits").build().state_dict(), weights)
    out = tmp_path / "m.onnx"
    assert main(["zoo", "export", "attendnext-digits", "-o", str(out), "--weights", str(weights)]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    assert main(["zoo", "export", "no-such-model", "-o", str(out)]) != 0
    err = capsys.readouterr().err
    assert "attendnext-micro" in err and "fix:" in err


def test_unknown_name_is_user_error():
    from tinyattend.errors import TinyattendError
    from tinyattend.zoo.registry import get_entry

    with pytest.raises(TinyattendError) as info:
        get_entry("resnet50")
    assert "lowformer-b0" in info.value.fix


def test_demo_model_accuracy():
    import onnxruntime as ort

    onnx_path = MODELS / "attendnext_digits.onnx"
    files = [onnx_path, MODELS / "attendnext_digits_calib.npy", MODELS / "attendnext_digits_test.npz"]
    for f in files:
        assert f.is_file(), f"{f} missing: run python -m tinyattend.zoo.train_demo --out models"
    assert onnx_path.stat().st_size < 2 * 1024 * 1024
    assert sum(f.stat().st_size for f in files) < 2 * 1024 * 1024
    calib = np.load(files[1])
    assert calib.dtype == np.float32 and calib.shape[1:] == (3, 32, 32)
    data = np.load(files[2])
    x, y = data["x"], data["y"]
    assert x.dtype == np.float32 and x.shape[1:] == (3, 32, 32) and len(x) == len(y)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    pred = np.array([np.argmax(sess.run(None, {name: x[i:i + 1]})[0]) for i in range(len(x))])
    assert (pred == y).mean() >= 0.95


def _transpose_conv_shapes(tflite: bytes):
    """(input, weights, output) shapes of every TRANSPOSE_CONV in an int8 TFLite model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite)
    shapes = {t["index"]: tuple(t["shape"]) for t in interpreter.get_tensor_details()}
    found = []
    for op in interpreter._get_ops_details():
        if op["op_name"] == "TRANSPOSE_CONV":
            _, weights, data = op["inputs"][:3]        # output_shape, weights [Cout, kh, kw, Cin], input
            found.append((shapes[data], shapes[weights], shapes[op["outputs"][0]]))
    return found


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("name", MCU)
def test_mcu_variant_converts_to_int8(name, tmp_path):
    pytest.importorskip("onnx2tf")
    from tinyattend.convert import convert_model
    from tinyattend.convert.quant_error import int8_interpreter
    from tinyattend.zoo.export import export_zoo_model

    path = export_zoo_model(name, tmp_path / f"{name}.onnx")
    result = convert_model(path, calib_samples=16, progress=False)
    ops = set(result.report["op_histogram"])
    assert {"CONV_2D", "MUL"} <= ops
    assert "TILE" not in ops
    int8_interpreter(result.tflite)                  # prepares (allocate_tensors) without error
    assert result.report["quantization_error"] is not None
    if name.startswith("attend"):
        assert {"RESIZE_NEAREST_NEIGHBOR", "LOGISTIC", "MAX_POOL_2D"} <= ops
    if name.startswith("lowformer"):
        assert {"TRANSPOSE_CONV", "BATCH_MATMUL", "SOFTMAX", "HARD_SWISH"} <= ops
        convs = _transpose_conv_shapes(result.tflite)
        assert len(convs) == 4                      # one per LowFormer block (depths 2 + 2)
        for data, weights, out in convs:
            # NHWC input whose channels are the weights' Cin; weights [Cout, k, k, Cin]
            assert data[-1] == weights[-1] and out[-1] == weights[0] and weights[1] == weights[2], convs


def test_channels_first_detection():
    from tinyattend.convert.onnx2tf_fixes import channels_first_input

    # lowformer-micro stage 3: [1, 40, 4, 4] NCHW kept by onnx2tf after a Reshape; weights Cin 40
    assert channels_first_input([1, 40, 4, 4], [1, 40, 4, 4], 40)
    assert not channels_first_input([1, 40, 4, 4], [1, 4, 4, 40], 40)     # already NHWC
    assert not channels_first_input([1, 4, 4, 4], [1, 4, 4, 4], 4)        # cannot tell: leave it
    assert not channels_first_input([1, "n", 4, 4], [1, None, 4, 4], 40)  # dynamic: leave it


def _reshape_into_conv_transpose():
    """The layout trap of lowformer-micro's stage-3 attention, alone: a map rebuilt by Reshape from a
    token tensor goes straight into a ConvTranspose whose 4x4 kernel equals the map's side."""
    import torch

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mix = torch.nn.Conv2d(8, 40, 1)
            self.up = torch.nn.ConvTranspose2d(40, 80, 4, 2, 1)

        def forward(self, x):
            tokens = self.mix(x).reshape(1, 1, 40, 16).transpose(2, 3)          # [1, 1, T, d]
            return self.up(tokens.transpose(2, 3).reshape(1, 40, 4, 4))

    return Model()


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("fixed", [True, False])
def test_reshape_into_conv_transpose_converts(fixed, tmp_path, monkeypatch):
    """With onnx2tf's layout fix the model converts and prepares; without it the converter stops at the
    broken TF graph with an UnsupportedOpError (not a TRANSPOSE_CONV prepare failure in LiteRT)."""
    pytest.importorskip("onnx2tf")
    import contextlib
    import warnings

    import torch

    import tinyattend.convert.onnx_to_tflite as onnx_to_tflite
    from tinyattend.convert import convert_model
    from tinyattend.convert.quant_error import int8_interpreter
    from tinyattend.errors import UnsupportedOpError

    torch.manual_seed(0)
    path = tmp_path / "trap.onnx"
    model = _reshape_into_conv_transpose().eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.rand(1, 8, 4, 4),), str(path), opset_version=14, dynamo=False,
                          input_names=["input"], output_names=["out"])
    if not fixed:
        monkeypatch.setattr(onnx_to_tflite, "onnx2tf_layout_fixes", contextlib.nullcontext)
        with pytest.raises(UnsupportedOpError, match="onnx2tf"):
            convert_model(path, calib_samples=8, progress=False)
        return
    result = convert_model(path, calib_samples=8, progress=False)
    int8_interpreter(result.tflite)
    [(data, weights, out)] = _transpose_conv_shapes(result.tflite)
    assert data == (1, 4, 4, 40) and weights == (80, 4, 4, 40) and out[-1] == 80
    assert result.report["quantization_error"]["max_abs_error"] < 0.05


# Full-size models, exported at their 64x64 test size (same blocks and ops as at 224x224, faster).
# attendnets ~60-70 s, attendnext ~95-140 s each (onnx2tf + two TFLite conversions) on 2 busy cores.
FULL_SIZE_INT8 = ("attendnets", "attendnext")
# The published LowFormer blocks do not convert: GroupNorm(1, C) pre-norms export as
# InstanceNormalization, the MLP's GELU as Erf, and the head's LayerNorm (opset 14) as
# ReduceMean/Sub/Pow/Sqrt/Div, and tinyattend has no int8 lowering for InstanceNormalization, Erf,
# Pow or Sqrt. lowformer-micro (BN, hardswish, GAP+FC head) is the MCU form that does.
FULL_SIZE_BLOCKED = {"lowformer-b0": (14, 7), "lowformer-b1": (20, 10),
                     "lowformer-b1.5": (24, 12), "lowformer-b3": (24, 12)}   # (GroupNorms, GELUs)


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("name", FULL_SIZE_INT8)
def test_full_size_model_converts_to_int8(name, tmp_path):
    pytest.importorskip("onnx2tf")
    from tinyattend.convert import convert_model
    from tinyattend.convert.quant_error import int8_interpreter
    from tinyattend.zoo.export import export_zoo_model
    from tinyattend.zoo.registry import get_entry

    size = get_entry(name).test_size
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((8, 3, size, size), dtype=np.float32))
    path = export_zoo_model(name, tmp_path / f"{name}.onnx", input_size=size)
    result = convert_model(path, calib=str(calib), progress=False)   # raises unless full-integer int8
    report = result.report
    assert report["input"]["dtype"] == "int8" and report["output"]["dtype"] == "int8"
    assert report["input"]["shape"] == [1, size, size, 3]
    ops = set(report["op_histogram"])
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "LOGISTIC", "MUL", "ADD",
            "RESIZE_NEAREST_NEIGHBOR", "MEAN", "FULLY_CONNECTED"} <= ops, ops
    assert not {"TILE", "DEQUANTIZE", "QUANTIZE"} & ops, ops
    int8_interpreter(result.tflite)                  # prepares (allocate_tensors) without error
    assert report["quantization_error"]["max_abs_error"] < 0.05


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FULL_SIZE_BLOCKED))
def test_full_size_lowformer_int8_blockers(name, tmp_path):
    """The full-size LowFormers stop at the ONNX op check, naming every GroupNorm, GELU and the head
    LayerNorm's Pow/Sqrt: the known gap to issue 6, kept visible here until those ops get lowerings."""
    from tinyattend.convert import convert_model
    from tinyattend.errors import UnsupportedOpError
    from tinyattend.zoo.export import export_zoo_model

    path = export_zoo_model(name, tmp_path / f"{name}.onnx", input_size=64)
    with pytest.raises(UnsupportedOpError) as info:
        convert_model(path, calib_samples=8, progress=False)
    found = {}
    for op, node, _ in info.value.ops:
        found.setdefault(op, []).append(node)
    norms, gelus = FULL_SIZE_BLOCKED[name]
    assert sorted(found) == ["Erf", "InstanceNormalization", "Pow", "Sqrt"], found
    assert len(found["InstanceNormalization"]) == norms and len(found["Erf"]) == gelus
    assert all("/attention/" in n or "/mlp/" in n for n in found["InstanceNormalization"])
    assert all("/mlp/" in n for n in found["Erf"])
    assert found["Pow"] == ["/head/head.4/Pow"] and found["Sqrt"] == ["/head/head.4/Sqrt"]
