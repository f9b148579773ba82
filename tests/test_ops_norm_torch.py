"""Normalisation and attention blocks exported by torch, end to end: `tinyattend convert` (onnx2tf, int8
calibration, code generation) then `tinyattend verify` (generated C on the host == TFLM, bit for bit).

One small model carries every form the issue lists: ConvNeXt's LayerNorm2d (permute, LayerNorm over C,
permute back), GroupNorm with one group (MobileViTv2, LowFormer) and with several, InstanceNorm2d with an
affine, the hand-written LayerNorm (ReduceMean, Sub, Pow, Sqrt, Div: LowFormer's head), a token
LayerNorm and single-head attention (MatMul between activations, Softmax, Transpose), and MobileViTv2's
linear attention (Softmax over tokens, ReduceSum, Expand). Spatial sizes differ from the channel count so
that onnx2tf cannot confuse layouts.
"""
from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (pip install torch==2.13.0)")


def _blocks():
    import torch
    from torch import nn

    class LayerNorm2d(nn.LayerNorm):            # ConvNeXt's: LayerNorm over C of an NCHW tensor
        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class HandLayerNorm(nn.Module):            # the decomposed form: Pow, Sqrt, Div
        def __init__(self, channels):
            super().__init__()
            self.weight = nn.Parameter(1 + 0.3 * torch.randn(channels))
            self.bias = nn.Parameter(0.1 * torch.randn(channels))

        def forward(self, x):
            mean = x.mean(1, keepdim=True)
            variance = (x - mean).pow(2).mean(1, keepdim=True)
            x = (x - mean) / torch.sqrt(variance + 1e-6)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    class Blocks(nn.Module):
        def __init__(self, channels=16):
            super().__init__()
            self.stem = nn.Conv2d(3, channels, 3, padding=1)
            self.ln2d = LayerNorm2d(channels)
            self.gn1 = nn.GroupNorm(1, channels)
            self.gn4 = nn.GroupNorm(4, channels)
            self.inorm = nn.InstanceNorm2d(channels, affine=True)
            self.hand = HandLayerNorm(channels)
            self.conv = nn.Conv2d(channels, channels, 1)
            self.token_norm = nn.LayerNorm(channels)
            self.qkv = nn.Linear(channels, 3 * channels)
            self.linear_qkv = nn.Conv2d(channels, 1 + 2 * channels, 1)
            self.head = nn.Linear(channels, 10)
            with torch.no_grad():
                for norm in (self.ln2d, self.gn1, self.gn4, self.inorm, self.token_norm):
                    norm.weight.copy_(1 + 0.3 * torch.randn(channels))
                    norm.bias.copy_(0.1 * torch.randn(channels))

        def forward(self, x):
            x = self.stem(x)
            x = x + self.conv(self.hand(self.inorm(self.gn4(self.gn1(self.ln2d(x))))))
            # MobileViTv2's linear attention: a score per token, softmax over tokens, summed context
            q, k, v = self.linear_qkv(x).split([1, x.shape[1], x.shape[1]], dim=1)
            context = (k * q.flatten(2).softmax(-1).view_as(q)).sum(dim=(2, 3), keepdim=True)
            x = x + torch.relu(v) * context.expand_as(v)
            t = self.token_norm(x.flatten(2).transpose(1, 2))                 # [1, tokens, C]
            q, k, v = self.qkv(t).chunk(3, dim=-1)
            attention = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(-1)
            t = t + attention @ v
            return self.head(t.mean(1))

    return Blocks()


@needs_torch
@pytest.mark.slow
def test_norm_and_attention_blocks_convert_and_verify(tmp_path, capsys):
    pytest.importorskip("onnx2tf")
    import onnx
    import torch

    from tinyattend.cli import main

    torch.manual_seed(0)
    model = _blocks().eval()
    path = tmp_path / "blocks.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 6, 10),), str(path), opset_version=17, dynamo=False)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"LayerNormalization", "InstanceNormalization", "Pow", "Sqrt", "Div", "ReduceSum", "Expand",
            "MatMul", "Softmax"} <= ops, ops
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).normal(size=(24, 3, 6, 10)).astype(np.float32))
    out = tmp_path / "out"
    assert main(["convert", str(path), "--board", "host", "-o", str(out), "--calib", str(calib),
                 "--kernels", "portable"]) == 0
    report = (out / "report.json").read_text()
    for op in ("RSQRT", "BATCH_MATMUL", "SOFTMAX"):
        assert f'"{op}"' in report, op
    # the variance: SQUARED_DIFFERENCE on the TensorFlow path, SUB then MUL(x, x) on the direct one
    assert '"SQUARED_DIFFERENCE"' in report or '"SUB"' in report
    assert main(["verify", str(out), "--samples", "20"]) == 0
    assert "verify: PASS" in capsys.readouterr().out
