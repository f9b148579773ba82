"""AttendNets (arXiv 2009.14385): a reconstruction, plus the macro architecture AttendNeXt shares.

Facts (abstract): 8-bit, very compact networks built from visual attention condensers (VACs);
macro and micro architecture machine designed; evaluated on ImageNet-50 (50 classes). The
smallest AttendNet has ~4.17x fewer parameters and ~3x fewer MACs than MobileNet-V1 at higher
top-1.

Not public: the layer-by-layer architecture. Everything below the block level is OUR CHOICE:
stem 3x3 stride 2; stages of inverted-residual blocks, each preceded by a condenser on its input
map (a VAC here; see `blocks.condenser_for` for maps too small or odd); 1x1 conv to a wide
head, global average pool, fully connected. Widths are chosen so that the full-size model lands
near 1/4.17 of MobileNet-V1's parameters (~1M) and ~1/3 of its MACs (~190M) at 224x224, 50
classes. `attendnets-micro` targets a Cortex-M7 (128x128 input, ~1M int8 weights).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .blocks import ConvNormAct, InvertedResidual, condenser_for


@dataclass(frozen=True)
class CondenserNetConfig:
    """Macro architecture of a condenser network (our reconstruction).

    stages: (expand, out_channels, blocks, first_stride) per stage, MobileNetV2 notation.
    condenser: 'vac' or 'dcac' in front of each block; condense_until: no condensers once the
    map is smaller than this (attention on a tiny map buys little).
    """
    stem: int
    stages: tuple[tuple[float, int, int, int], ...]
    head: int
    condenser: str
    act: str = "relu6"
    condense_until: int = 4


class CondenserNet(nn.Module):
    """stem -> [condenser -> inverted residual] x N -> 1x1 head -> GAP -> FC. Input [N,3,S,S]."""

    def __init__(self, config: CondenserNetConfig, num_classes: int, input_size: int):
        super().__init__()
        self.stem = ConvNormAct(3, config.stem, 3, 2, act=config.act)
        size = (input_size + 1) // 2
        cin = config.stem
        blocks = []
        for expand, cout, n, first_stride in config.stages:
            for i in range(n):
                stride = first_stride if i == 0 else 1
                if size >= config.condense_until:
                    condenser = condenser_for(config.condenser, cin, size)
                    if condenser is not None:
                        blocks.append(condenser)
                blocks.append(InvertedResidual(cin, cout, stride, expand, config.act))
                cin = cout
                size = (size + stride - 1) // stride
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            ConvNormAct(cin, config.head, 1, act=config.act),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
            nn.Linear(config.head, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


ATTENDNETS = CondenserNetConfig(
    stem=24,
    stages=((1, 16, 1, 1), (4, 24, 2, 2), (4, 40, 3, 2), (4, 80, 3, 2), (4, 112, 2, 1), (4, 192, 2, 2)),
    head=768, condenser="vac")

ATTENDNETS_MICRO = CondenserNetConfig(
    stem=16,
    stages=((1, 16, 1, 1), (3, 24, 2, 2), (4, 32, 2, 2), (4, 64, 3, 2), (4, 96, 2, 1), (4, 160, 2, 2)),
    head=640, condenser="vac")


def attendnets(num_classes: int = 50, input_size: int = 224) -> CondenserNet:
    """Full-size AttendNets reconstruction (ImageNet-50: 50 classes, 224x224)."""
    return CondenserNet(ATTENDNETS, num_classes, input_size)


def attendnets_micro(num_classes: int = 50, input_size: int = 128) -> CondenserNet:
    """MCU AttendNets (ours): 128x128x3, VACs on maps from 64x64 down to 4x4."""
    return CondenserNet(ATTENDNETS_MICRO, num_classes, input_size)
