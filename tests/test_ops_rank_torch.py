"""The transformer forms of MobileViT, MobileViTv2 and EdgeNeXt, exported by torch, end to end: `tinyattend
convert` (onnx2tf, int8 calibration, code generation) then `tinyattend verify` (generated C on the host ==
TFLM, bit for bit).

One small model carries each form: MobileViTv2's patch unfold and fold (rank-6 permutes), timm's attention
qkv split (a rank-5 permute, then unbind), EdgeNeXt's Fourier positional encoding (CumSum, Sin, Cos: constant
for a fixed input size) and its F.normalize of q and k (ReduceL2, Clip, Expand, Div). Without the rank
rewrites, the constant folding and the normalisation rewrite each of them is refused (at code generation or
by the pre-check).
"""
from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest

HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (pip install torch==2.13.0)")

CHANNELS, HEADS, PATCH, POS_DIM = 8, 2, 2, 4


def _blocks():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, CHANNELS, 3, padding=1, stride=2)
            self.pos = nn.Conv2d(2 * POS_DIM, CHANNELS, 1)
            self.mix = nn.Conv2d(CHANNELS, CHANNELS, 1)
            self.qkv = nn.Linear(CHANNELS, 3 * CHANNELS)
            self.temperature = nn.Parameter(1 + torch.rand(HEADS, 1, 1))
            self.head = nn.Linear(CHANNELS, 10)

        def positions(self, b, h, w):           # timm's PositionalEncodingFourier (EdgeNeXt)
            not_mask = ~torch.zeros(b, h, w, dtype=torch.bool)
            y = not_mask.cumsum(1, dtype=torch.float32)
            x = not_mask.cumsum(2, dtype=torch.float32)
            dim_t = torch.arange(POS_DIM, dtype=torch.int64).to(torch.float32)
            dim_t = 10000 ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / POS_DIM)
            px, py = x[:, :, :, None] / dim_t, y[:, :, :, None] / dim_t
            px = torch.stack([px[:, :, :, 0::2].sin(), px[:, :, :, 1::2].cos()], dim=4).flatten(3)
            py = torch.stack([py[:, :, :, 0::2].sin(), py[:, :, :, 1::2].cos()], dim=4).flatten(3)
            return self.pos(torch.cat((py, px), dim=3).permute(0, 3, 1, 2))

        def forward(self, x):
            x = self.stem(x)
            b, c, h, w = x.shape
            x = x + self.positions(b, h, w)
            nh, nw = h // PATCH, w // PATCH     # MobileViTv2's unfold: [B, C, P, N]
            p = x.reshape(b, c, nh, PATCH, nw, PATCH).permute(0, 1, 3, 5, 2, 4).reshape(b, c, PATCH * PATCH, -1)
            p = self.mix(p)
            x = x + p.reshape(b, c, PATCH, PATCH, nh, nw).permute(0, 1, 4, 2, 5, 3).reshape(b, c, h, w)
            t = x.flatten(2).transpose(1, 2)    # [B, N, C]
            n = t.shape[1]
            qkv = self.qkv(t).reshape(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)   # EdgeNeXt's XCA
            attention = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(-1)
            t = t + (attention @ v).transpose(1, 2).reshape(b, n, c)
            return self.head(t.mean(1))

    return Blocks()


@needs_torch
@pytest.mark.slow
def test_rank_5_6_permutes_positional_encoding_and_normalize_convert_and_verify(tmp_path, capsys):
    pytest.importorskip("onnx2tf")
    import onnx
    import torch

    from tinyattend.cli import main
    from tinyattend.convert.onnx_norm_rewrites import _ranks

    torch.manual_seed(0)
    path = tmp_path / "blocks.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_blocks().eval(), (torch.zeros(1, 3, 12, 16),), str(path), opset_version=17, dynamo=False)
    exported = onnx.load(str(path))
    shapes = _ranks(exported)
    ops = {node.op_type for node in exported.graph.node}
    assert {"CumSum", "Sin", "Cos", "ReduceL2", "Clip", "Div"} <= ops, ops
    ranks = {len(shapes[node.output[0]]) for node in exported.graph.node if node.op_type == "Transpose"}
    assert {5, 6} <= ranks, ranks
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).normal(size=(24, 3, 12, 16)).astype(np.float32))
    out = tmp_path / "out"
    assert main(["convert", str(path), "--board", "host", "-o", str(out), "--calib", str(calib)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["oracle"]["model"] == "tflm", report["oracle"]
    # F.normalize's clamp of the norm: MAXIMUM on the TensorFlow path; onnx2tf's direct writer folds it
    # into RSQRT of the sum of squares (the same outside norms under 1e-12)
    clamp = ("MAXIMUM",) if report["frontend"]["path"] == "tensorflow" else ()
    for op in ("RSQRT", "TRANSPOSE", "BATCH_MATMUL", "SOFTMAX", *clamp):
        assert op in report["oracle"]["ops"], op
    assert main(["verify", str(out), "--samples", "20"]) == 0
    assert "verify: PASS" in capsys.readouterr().out
