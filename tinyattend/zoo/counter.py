"""Our own parameter, MAC and activation counter for zoo models.

Runs one forward pass with hooks on every leaf module (on the 'meta' device when it can,
so even LowFormer-B3 costs no real compute) and counts:

- parameters: every parameter, BatchNorm/GroupNorm/LayerNorm included (as papers report);
- MACs (multiply-accumulates) of Conv2d (out elements x Cin/groups x k*k), ConvTranspose2d
  (in elements x Cout/groups x k*k: each input pixel scatters one kernel), Linear
  (out elements x in features) and `blocks.MatMul` (out elements x inner dimension: attention's
  QK^T and AV). Norms, activations, pooling and element-wise ops are not counted;
- peak activations: the largest (sum of input sizes + output size) of one leaf module, in
  elements, which is bytes at int8. Element-wise work done outside modules (residual adds)
  is not seen; the condenser's V * A multiply is a module and is.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .blocks import MatMul, SelectiveAttention


# At int8 these run inside the op before them (BN folded, ReLU clamps the output range).
FUSED_INTO_PRODUCER = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Identity, nn.Dropout, nn.Flatten)


@dataclass(frozen=True)
class ModelCount:
    params: int
    macs: int
    peak_activation_elems: int     # = bytes at int8
    peak_op: str                   # the module name where the peak occurs


def _numel(t) -> int:
    if isinstance(t, torch.Tensor):
        return t.numel()
    if isinstance(t, (tuple, list)):
        return sum(_numel(x) for x in t)
    return 0


def _module_macs(module: nn.Module, inputs, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.ConvTranspose2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return inputs[0].numel() * (module.out_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, MatMul):
        return output.numel() * inputs[0].shape[-1]
    return 0


def count_model(model: nn.Module, input_size: tuple[int, int], in_channels: int = 3) -> ModelCount:
    """Count `model` for one [1, in_channels, H, W] input. The model is put in eval mode."""
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    device = next(model.parameters()).device
    macs = 0
    peak = (0, "")
    names = {m: n for n, m in model.named_modules()}

    def hook(module, inputs, output):
        nonlocal macs, peak
        macs += _module_macs(module, inputs, output)
        live = _numel(inputs) + _numel(output)
        if live > peak[0] and not isinstance(module, FUSED_INTO_PRODUCER):
            peak = (live, names.get(module, type(module).__name__))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if not list(m.children()) or isinstance(m, (MatMul, SelectiveAttention))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_channels, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
    return ModelCount(params, macs, peak[0], peak[1])


def count_builder(builder, input_size: tuple[int, int], **kwargs) -> ModelCount:
    """Build on the meta device (no memory, no compute) and count; falls back to CPU."""
    try:
        with torch.device("meta"):
            model = builder(**kwargs)
        return count_model(model, input_size)
    except (NotImplementedError, RuntimeError):
        return count_model(builder(**kwargs), input_size)
