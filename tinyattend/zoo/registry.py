"""The zoo's names: name -> builder, input size, classes, and what is a reconstruction.

Importable without torch (builders are resolved lazily), so unknown names and a missing
torch are reported as user errors, not import tracebacks.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import BadModelError, ToolchainError

TORCH_PIN = "torch==2.13.0"


class UnknownZooModelError(BadModelError):
    """A zoo name that is not in the registry."""


class TorchMissingError(ToolchainError):
    """The zoo needs PyTorch, an optional extra."""


@dataclass(frozen=True)
class ZooEntry:
    name: str
    builder: str                 # "module:function" inside tinyattend.zoo
    input_size: int              # square input, [1, 3, input_size, input_size]
    num_classes: int
    mcu: bool                    # sized for a Cortex-M7, TFLM ops only
    reconstruction: str          # what is ours rather than the paper's
    published: tuple[float, float] | None = None   # (params, MACs) at input_size, from the paper
    test_size: int = 64          # a smaller input the architecture allows, for fast export tests

    def build(self, **kwargs):
        """Instantiate the PyTorch model (float, train mode, random weights)."""
        module_name, func = self.builder.split(":")
        module = importlib.import_module(f"tinyattend.zoo.{module_name}")
        return getattr(module, func)(**kwargs)

    def build_for(self, input_size: int):
        """The model for an input of `input_size` (condenser placement depends on it)."""
        if self.builder.startswith("lowformer"):
            return self.build()
        return self.build(input_size=input_size)


_LOWFORMER_NOTE = "none (block structure from the official code)"
_LOWFORMER_MICRO = "ours: BN for GroupNorm, hardswish for GELU, MBConv local, GAP+FC head, widths/depths"
_ATTENDNETS = "macro/micro layout ours (not public); VAC = maxpool2,1x1,dw3x3,1x1,sigmoid,nearest x2"
_ATTENDNEXT = "macro/micro layout ours (not public); DC-AC = 2 condensations, nearest x4"

ENTRIES = (
    ZooEntry("attendnets", "attendnets:attendnets", 224, 50, False, _ATTENDNETS),
    ZooEntry("attendnets-micro", "attendnets:attendnets_micro", 128, 50, True, _ATTENDNETS),
    ZooEntry("attendnext", "attendnext:attendnext", 224, 1000, False, _ATTENDNEXT),
    ZooEntry("attendnext-micro", "attendnext:attendnext_micro", 128, 1000, True, _ATTENDNEXT),
    ZooEntry("attendnext-digits", "attendnext:attendnext_digits", 32, 10, True,
             _ATTENDNEXT + "; narrow 32x32 demo config", test_size=32),
    ZooEntry("lowformer-b0", "lowformer:lowformer_b0", 224, 1000, False, _LOWFORMER_NOTE, (14.1e6, 944e6)),
    ZooEntry("lowformer-b1", "lowformer:lowformer_b1", 224, 1000, False, _LOWFORMER_NOTE, (17.9e6, 1410e6)),
    ZooEntry("lowformer-b1.5", "lowformer:lowformer_b15", 224, 1000, False, _LOWFORMER_NOTE, (33.9e6, 2573e6)),
    ZooEntry("lowformer-b3", "lowformer:lowformer_b3", 224, 1000, False, _LOWFORMER_NOTE, (57.1e6, 6098e6)),
    ZooEntry("lowformer-micro", "lowformer:lowformer_micro", 128, 1000, True, _LOWFORMER_MICRO),
)
REGISTRY = {e.name: e for e in ENTRIES}


def known_names() -> list[str]:
    return [e.name for e in ENTRIES]


def require_torch():
    """Import torch or raise TorchMissingError with the install line."""
    try:
        import torch
    except ImportError:
        raise TorchMissingError(
            "the model zoo needs PyTorch, which is not installed",
            fix=f"pip install {TORCH_PIN}   (the CPU build; or: pip install 'tinyattend[zoo]')") from None
    return torch


def get_entry(name: str) -> ZooEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownZooModelError(
            f"'{name}' is not a zoo model",
            fix="use one of: " + ", ".join(known_names())) from None
