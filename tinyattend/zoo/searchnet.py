"""The networks `tinyattend search` samples: CondenserNet (zoo/attendnets.py) opened up stage by stage.

Built from a `search.space.Architecture` given as a plain dict (the zoo imports nothing of the
pipeline). Layout NCHW, input [N, C, H, W]; see search/space.py for the knobs.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import (AttentionCondenser, ConvNormAct, DoubleCondensingAttentionCondenser, InvertedResidual,
                     VisualAttentionCondenser)

_SPATIAL_FACTOR = {"ac": 2, "vac": 2, "dcac": 4}


def fitting_condenser(kind: str, height: int, width: int) -> str:
    """The condenser kind a map can take: `kind` if both sides divide by its condensation, a dcac falls
    back to a vac on maps that divide by 2 only, else none."""
    if kind == "dcac" and height % 4 == 0 and width % 4 == 0:
        return "dcac"
    if kind in ("ac", "vac", "dcac") and height % 2 == 0 and width % 2 == 0:
        return "vac" if kind == "dcac" else kind
    return "none"


def _condenser(kind: str, channels: int, reduction: int) -> nn.Module:
    cls = {"ac": AttentionCondenser, "vac": VisualAttentionCondenser,
           "dcac": DoubleCondensingAttentionCondenser}[kind]
    return cls(channels, reduction=reduction)


def _down(size: int, stride: int) -> int:
    return (size + stride - 1) // stride


class SearchNet(nn.Module):
    """[avg pool] -> stem -> stages of [condenser] + inverted residuals -> 1x1 head -> GAP -> FC."""

    def __init__(self, arch: dict, num_classes: int, in_channels: int, height: int, width: int):
        super().__init__()
        layers: list[nn.Module] = []
        if arch["downsample"] > 1:
            d = arch["downsample"]
            layers.append(nn.AvgPool2d(d, d))          # floor: a ragged edge row/column is dropped
            height, width = height // d, width // d
        act = arch["act"]
        layers.append(ConvNormAct(in_channels, arch["stem"], 3, arch["stem_stride"], act=act))
        height, width = _down(height, arch["stem_stride"]), _down(width, arch["stem_stride"])
        cin = arch["stem"]
        self.condensers: list[str] = []           # the kind built in front of each stage's first block
        for stage in arch["stages"]:
            built = "none"
            for i in range(stage["depth"]):
                stride = stage["stride"] if i == 0 else 1
                if stage["condenser"] != "none" and (i == 0 or stage["condense_all"]):
                    kind = fitting_condenser(stage["condenser"], height, width)
                    if kind != "none":
                        layers.append(_condenser(kind, cin, stage["reduction"]))
                    built = kind if i == 0 else built
                layers.append(InvertedResidual(cin, stage["width"], stride, stage["expand"], act, stage["kernel"]))
                cin = stage["width"]
                height, width = _down(height, stride), _down(width, stride)
            self.condensers.append(built)
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(ConvNormAct(cin, arch["head"], 1, act=act), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(1), nn.Linear(arch["head"], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
