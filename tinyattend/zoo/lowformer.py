"""LowFormer (arXiv 2409.03460): B0, B1, B1.5, B3 as published, and our `lowformer-micro`.

Facts (the authors' official code, github.com/altair199797/LowFormer, and its printed models):
stem 3x3/2 conv + BN + hardswish (+ `depths[0]` stride-1 fused MBConvs with residual);
stages 1-2: a stride-2 fused MBConv (no residual) then stride-1 fused MBConvs (residual);
stages 3-4: a stride-2 fused MBConv then LowFormer blocks (attention stride 2 in stage 3,
1 in stage 4); head 1x1 conv + BN + hardswish, global average pool, Linear (no bias) + LayerNorm
+ hardswish, Linear to classes. The expansion of the stride-2 fused MBConvs is 4 in B0 and 6 in
B1, B1.5 and B3; B3's stem block expands by 4. The head widths are 1536/1600 except B1.5
(2304/2560).

`lowformer-micro` is ours (a choice, not in the paper): GroupNorm -> BatchNorm, GELU ->
hardswish (TFLM has neither GroupNorm nor GELU), the 1x1/LayerNorm head replaced by global
average pool + fully connected, widths 16,24,48,80,128, depths 0,1,1,2,2, input 128x128.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .blocks import ConvNormAct, FusedMBConv, LowFormerBlock, Residual


@dataclass(frozen=True)
class LowFormerConfig:
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    down_expand: float          # expansion of the stride-2 fused MBConvs
    stem_expand: float = 4      # expansion of the stem's stride-1 fused MBConvs
    head: tuple[int, int] | None = (1536, 1600)   # None: GAP + FC (MCU variant)
    mcu: bool = False
    fused_below: int = 256      # LowFormer blocks' local part is a fused MBConv below this width


CONFIGS = {
    "b0": LowFormerConfig((16, 32, 64, 128, 256), (0, 1, 1, 3, 4), down_expand=4),
    "b1": LowFormerConfig((16, 32, 64, 128, 256), (0, 1, 1, 5, 5), down_expand=6),
    "b1.5": LowFormerConfig((20, 40, 80, 160, 320), (0, 1, 1, 6, 6), down_expand=6, head=(2304, 2560)),
    "b3": LowFormerConfig((32, 64, 128, 256, 512), (1, 2, 3, 6, 6), down_expand=6),
    "micro": LowFormerConfig((16, 24, 48, 80, 128), (0, 1, 1, 2, 2), down_expand=4, head=None, mcu=True,
                             fused_below=0),
}

PUBLISHED = {  # params, MACs at 224x224, ImageNet top-1 (paper, Table 1)
    "b0": (14.1e6, 944e6, 78.4),
    "b1": (17.9e6, 1410e6, 79.9),
    "b1.5": (33.9e6, 2573e6, 81.2),
    "b3": (57.1e6, 6098e6, 83.6),
}


class LowFormer(nn.Module):
    """LowFormer classifier. Input [N, 3, H, W] with H, W divisible by 64 (32 for stride,
    2 more for stage 3's strided attention)."""

    def __init__(self, config: LowFormerConfig, num_classes: int = 1000):
        super().__init__()
        w, d = config.widths, config.depths
        stem = [ConvNormAct(3, w[0], 3, 2, act="hswish")]
        stem += [Residual(FusedMBConv(w[0], w[0], 1, config.stem_expand)) for _ in range(d[0])]
        self.stem = nn.Sequential(*stem)
        stages = []
        cin = w[0]
        for i in (1, 2):
            blocks = [FusedMBConv(cin, w[i], 2, config.down_expand)]
            blocks += [Residual(FusedMBConv(w[i], w[i], 1, 4)) for _ in range(d[i] - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = w[i]
        for i, att_stride in ((3, 2), (4, 1)):
            blocks = [FusedMBConv(cin, w[i], 2, config.down_expand)]
            blocks += [LowFormerBlock(w[i], att_stride, config.mcu, config.fused_below) for _ in range(d[i])]
            stages.append(nn.Sequential(*blocks))
            cin = w[i]
        self.stages = nn.Sequential(*stages)
        if config.head is None:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(cin, num_classes))
        else:
            conv_w, fc_w = config.head
            self.head = nn.Sequential(
                ConvNormAct(cin, conv_w, 1, act="hswish"),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                nn.Linear(conv_w, fc_w, bias=False), nn.LayerNorm(fc_w), nn.Hardswish(),
                nn.Linear(fc_w, num_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def lowformer(variant: str, num_classes: int = 1000) -> LowFormer:
    """variant: 'b0', 'b1', 'b1.5', 'b3' (published) or 'micro' (ours)."""
    return LowFormer(CONFIGS[variant], num_classes)


def lowformer_b0(num_classes: int = 1000) -> LowFormer:
    return lowformer("b0", num_classes)


def lowformer_b1(num_classes: int = 1000) -> LowFormer:
    return lowformer("b1", num_classes)


def lowformer_b15(num_classes: int = 1000) -> LowFormer:
    return lowformer("b1.5", num_classes)


def lowformer_b3(num_classes: int = 1000) -> LowFormer:
    return lowformer("b3", num_classes)


def lowformer_micro(num_classes: int = 1000) -> LowFormer:
    """MCU LowFormer (ours): 128x128x3, TFLM ops only once BatchNorm is folded or lowered."""
    return lowformer("micro", num_classes)
