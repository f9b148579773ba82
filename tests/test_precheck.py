"""The ONNX pre-check and the code generator draw on one list, and a refusal comes early and once per op.

No TensorFlow here: what these tests guard is that the refusal happens before it is imported.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from model_factory import OnnxBuilder, save
from tinyattend.convert.onnx_checks import SUPPORTED_OPS, check_onnx_ops, missing_kernels, node_problem, tflite_ops
from tinyattend.errors import UnsupportedOpError


def test_every_tflite_op_the_table_names_is_a_tflite_builtin():
    """The pre-check reads SUPPORTED_OPS' upper-case words as TFLite builtins: a typo there (or a word
    that is not an op) would make it refuse or pass the wrong thing."""
    from ai_edge_litert import schema_py_generated as schema

    builtins = {name for name in vars(schema.BuiltinOperator) if not name.startswith("_")}
    for onnx_op in SUPPORTED_OPS:
        unknown = [name for name in tflite_ops(onnx_op) if name not in builtins]
        assert not unknown, f"SUPPORTED_OPS[{onnx_op!r}] names {unknown}, which are not TFLite builtins"


def _neg_model(tmp_path, count: int = 5):
    """Conv, then `count` Neg nodes: ONNX Neg converts (onnx2tf -> tf.math.negative -> TFLite NEG, an int8
    builtin), but tinyattend's code generator has no NEG module."""
    b = OnnxBuilder([1, 3, 8, 8])
    x = b.random_conv(b.input_name, 3, 4)
    for _ in range(count):
        x = b.op("Neg", [x])
    return save(b.build(x, [1, 4, 8, 8]), tmp_path / "neg.onnx")


# Adds the table entry a helper might add for an op without a codegen module, then runs the CLI.
_CONVERT_WITH_NEG_ENTRY = r"""
import json, sys, time
start = time.monotonic()
from tinyattend.convert import onnx_checks
onnx_checks.SUPPORTED_OPS["Neg"] = ("NEG", None)
from tinyattend.cli import main
code = main(["convert", sys.argv[1], "--board", "host", "-o", sys.argv[2]])
print(json.dumps({"code": code, "seconds": time.monotonic() - start,
                  "imported": sorted(m for m in ("tensorflow", "onnx2tf") if m in sys.modules)}))
"""


def test_entry_without_codegen_module_is_refused_before_onnx2tf(tmp_path):
    """An entry naming a TFLite op with no codegen module (NEG) makes `convert` refuse the model at the
    pre-check: in seconds, before TensorFlow or onnx2tf is imported, nothing written, one line for the op
    type (count, first nodes, reason, what to do)."""
    assert "NEG" not in __import__("tinyattend.codegen.ops", fromlist=["registry"]).registry()
    model, out = _neg_model(tmp_path), tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", _CONVERT_WITH_NEG_ENTRY, str(model), str(out)],
                            capture_output=True, text=True, timeout=300)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["code"] != 0 and summary["imported"] == [], (summary, result.stderr)
    assert summary["seconds"] < 20, summary          # seconds, not the minutes of onnx2tf + calibration
    assert not out.exists()
    err = result.stderr
    assert "Traceback" not in err, err
    assert "Neg x5 (nodes 'neg_4', 'neg_5', 'neg_6', ... (2 more))" in err, err
    assert err.count("becomes NEG, which tinyattend's code generator has no kernel for") == 1, err
    assert err.count("what to do:") == 1 and "Conv" not in err.split("fix:")[0], err
    assert "model.tflite" not in err, err            # a failed convert wrote none to inspect


def test_inspect_agrees_with_the_precheck(tmp_path, monkeypatch):
    """`tinyattend inspect` marks the node the pre-check refuses, with the same reason."""
    from tinyattend.inspect import inspect_onnx

    monkeypatch.setitem(SUPPORTED_OPS, "Neg", ("NEG", None))
    model = _neg_model(tmp_path, count=1)
    result = inspect_onnx(model)
    [problem] = result["problems"]
    assert problem["op"] == "Neg" and "no kernel" in problem["reason"]
    import onnx
    with pytest.raises(UnsupportedOpError) as info:
        check_onnx_ops(onnx.load(str(model)), model)
    assert [reason for _, _, reason in info.value.ops] == [problem["reason"]]


def test_refusal_grouped_once_per_op_type(tmp_path):
    """Many nodes of one unsupported kind make one line with the count, three names, the reason and the
    advice; the supported-op list is not repeated per node."""
    b = OnnxBuilder([1, 3, 16, 16])
    x = b.random_conv(b.input_name, 3, 4)
    scales = b.const(np.array([1, 1, 1, 1], np.float32), "scales")
    for _ in range(5):
        x = b.op("Resize", [x, "", scales], mode="linear", coordinate_transformation_mode="tf_half_pixel_for_nn")
    x = b.op("Softplus", [x])
    path = save(b.build(x, [1, 4, 16, 16]), tmp_path / "resize.onnx")
    import onnx
    start = time.monotonic()
    with pytest.raises(UnsupportedOpError) as info:
        check_onnx_ops(onnx.load(str(path)), path)
    assert time.monotonic() - start < 5
    message = info.value.message
    assert "2 op type(s) tinyattend cannot convert (6 node(s))" in message, message
    assert message.count("Resize x5 (nodes 'resize_5', 'resize_6', 'resize_7', ... (2 more))") == 1, message
    assert message.count("coordinate_transformation_mode 'tf_half_pixel_for_nn' is not supported") == 1, message
    assert "Softplus x1 (node 'softplus_10')" in message, message
    assert message.count("what to do:") == 2 and "mode='nearest' or 'linear'" in message, message
    assert len(info.value.ops) == 6 and "Conv" not in message + info.value.fix


@pytest.mark.parametrize("mode,ok", [("nearest", True), ("linear", True), ("cubic", True)])
def test_resize_modes_follow_the_kernels(tmp_path, mode, ok):
    """Linear resize becomes RESIZE_BILINEAR, which has a kernel: accepted (it used to be refused)."""
    from tinyattend.convert.onnx_checks import GraphIndex
    b = OnnxBuilder([1, 3, 8, 8])
    scales = b.const(np.array([1, 1, 2, 2], np.float32), "scales")
    y = b.op("Resize", [b.input_name, "", scales], mode=mode)
    model = b.build(y, [1, 3, 16, 16])
    [node] = [n for n in model.graph.node if n.op_type == "Resize"]
    reason = node_problem(node, GraphIndex(model.graph))
    assert (reason is None) == ok, reason
    assert not missing_kernels("Resize")


def test_sqrt_of_a_shape_is_folded_not_refused(tmp_path):
    """torch's attention multiplies q and k by sqrt(1/sqrt(q.shape[-1])), Sqrt(Div(1, Sqrt(Cast(Shape(q)[-1])))): a constant the shape folding
    removes (MobileViT), so the pre-check takes it; a Sqrt of activations stays refused (no int8 SQRT)."""
    import onnx
    b = OnnxBuilder([1, 3, 8, 8])
    x = b.random_conv(b.input_name, 3, 4)
    last = b.op("Slice", [b.op("Shape", [x]), b.const(np.array([-1], np.int64), "s"),
                          b.const(np.array([4], np.int64), "e")])
    root = b.op("Sqrt", [b.op("Cast", [last], to=onnx.TensorProto.FLOAT)])
    scale = b.op("Sqrt", [b.op("Div", [b.const(np.array(1.0, np.float32), "one"), root])])  # q * sqrt(scale)
    y = b.op("Mul", [x, scale])
    path = save(b.build(y, [1, 4, 8, 8]), tmp_path / "scale.onnx")
    check_onnx_ops(onnx.load(str(path)), path)
    data_root = save(b.build(b.op("Sqrt", [b.op("Relu", [y])]), [1, 4, 8, 8]), tmp_path / "root.onnx")
    with pytest.raises(UnsupportedOpError, match="no int8 SQRT"):
        check_onnx_ops(onnx.load(str(data_root)), data_root)


def _rank_6_model(tmp_path, elementwise: bool):
    """Conv, a view as [1, 4, 2, 4, 2, 4] and a rank-6 permute (the patch unfold of MobileViTv2), then
    (elementwise) a Mul by a constant on the rank-6 tensor, then back to [1, 4, 8, 8]."""
    b = OnnxBuilder([1, 3, 8, 8])
    x = b.random_conv(b.input_name, 3, 4)
    x = b.op("Reshape", [x, b.const(np.array([1, 4, 2, 4, 2, 4], np.int64), "shape")])
    x = b.op("Transpose", [x], perm=[0, 1, 3, 5, 2, 4])
    if elementwise:
        x = b.op("Mul", [x, b.const(np.full([1, 4, 4, 4, 2, 2], 0.5, np.float32), "half")])
    x = b.op("Reshape", [x, b.const(np.array([1, 4, 8, 8], np.int64), "shape")])
    return save(b.build(x, [1, 4, 8, 8]), tmp_path / f"rank6_{int(elementwise)}.onnx")


def test_rank_6_permute_is_taken_a_rank_6_mul_refused_before_onnx2tf(tmp_path):
    """A rank-6 Transpose converts (rewritten on rank-4 views: onnx_rank_rewrites), so the pre-check takes
    it; a Mul on a rank-6 tensor becomes MUL, whose kernel takes rank 4 at most (mul.py's MAX_RANK): refused
    by `convert` in seconds, before TensorFlow or onnx2tf, nothing written."""
    import onnx
    from tinyattend.codegen.ops import max_rank

    check_onnx_ops(onnx.load(str(_rank_6_model(tmp_path, False))), tmp_path / "rank6_0.onnx")
    assert max_rank("MUL") == 4 and max_rank("RESHAPE") is None
    model, out = _rank_6_model(tmp_path, True), tmp_path / "out"
    script = ("import json, sys, time\nstart = time.monotonic()\nfrom tinyattend.cli import main\n"
              "code = main(['convert', sys.argv[1], '--board', 'host', '-o', sys.argv[2]])\n"
              "print(json.dumps({'code': code, 'seconds': time.monotonic() - start,\n"
              "  'imported': sorted(m for m in ('tensorflow', 'onnx2tf') if m in sys.modules)}))\n")
    result = subprocess.run([sys.executable, "-c", script, str(model), str(out)],
                            capture_output=True, text=True, timeout=300)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["code"] != 0 and summary["imported"] == [], (summary, result.stderr)
    assert summary["seconds"] < 20, summary
    assert not out.exists()
    err = result.stderr
    assert "Traceback" not in err, err
    assert "Mul x1 (node 'mul_" in err and "has rank 6 (1x4x4x4x2x2); Mul becomes MUL, whose kernel takes rank 4 " \
           "at most" in err, err
    assert "Transpose" not in err.split("fix:")[0], err


def test_inspect_judges_ranks_as_the_precheck_does(tmp_path):
    """`tinyattend inspect` on the same two models: the rank-6 permute converts (it is rewritten), the rank-6
    Mul is marked with the pre-check's reason."""
    from tinyattend.inspect import inspect_onnx

    assert inspect_onnx(_rank_6_model(tmp_path, False))["problems"] == []
    [problem] = inspect_onnx(_rank_6_model(tmp_path, True))["problems"]
    assert problem["op"] == "Mul" and "has rank 6" in problem["reason"], problem
