"""AttendNeXt (arXiv 2208.06980): a reconstruction built from double-condensing attention condensers.

Facts (abstract): DC-AC blocks; macro and micro architecture from a machine-driven search;
ImageNet; more than 1.37x smaller than MobileNetV3-L (so at most ~3.9M parameters) at ~75.9%
top-1.

Not public: per-layer widths, kernel sizes, where exactly the second condensation sits, input
resolution. The LAYOUT IS OUR RECONSTRUCTION (see attendnets.CondenserNet): stem 3x3/2, stages of
inverted-residual blocks each preceded by a DC-AC (a VAC where the map divides by 2 but not by 4,
as 14x14 at 224 input; none on odd or tiny maps), 1x1 head, GAP, FC. Full size: 224x224, 1000
classes, <= 3.9M parameters. `attendnext-micro`: 128x128x3 for a Cortex-M7.
`attendnext_digits` is the narrow 32x32 configuration trained by train_demo.py.
"""
from __future__ import annotations

from .attendnets import CondenserNet, CondenserNetConfig

ATTENDNEXT = CondenserNetConfig(
    stem=32,
    stages=((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1)),
    head=1280, condenser="dcac")

ATTENDNEXT_MICRO = CondenserNetConfig(
    stem=16,
    stages=((1, 16, 1, 1), (3, 24, 2, 2), (4, 40, 2, 2), (4, 64, 3, 2), (4, 96, 2, 1), (4, 160, 2, 2)),
    head=640, condenser="dcac")

# 32x32 input: DC-ACs at 16x16 and 8x8 (the stem output and stage 2), VAC at... none below 4.
ATTENDNEXT_DIGITS = CondenserNetConfig(
    stem=16,
    stages=((1, 16, 1, 1), (3, 24, 2, 2), (3, 40, 2, 2), (3, 64, 1, 2)),
    head=128, condenser="dcac")


def attendnext(num_classes: int = 1000, input_size: int = 224) -> CondenserNet:
    """Full-size AttendNeXt reconstruction (ImageNet, 224x224)."""
    return CondenserNet(ATTENDNEXT, num_classes, input_size)


def attendnext_micro(num_classes: int = 1000, input_size: int = 128) -> CondenserNet:
    """MCU AttendNeXt (ours): 128x128x3, DC-ACs on maps from 64x64 down to 4x4."""
    return CondenserNet(ATTENDNEXT_MICRO, num_classes, input_size)


def attendnext_digits(num_classes: int = 10, input_size: int = 32) -> CondenserNet:
    """Narrow AttendNeXt for the 32x32 digits demo (ours; contains DC-AC blocks)."""
    return CondenserNet(ATTENDNEXT_DIGITS, num_classes, input_size)
