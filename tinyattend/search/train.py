"""Brief, seeded CPU training of one candidate (PyTorch, one thread), with the zoo's loop (zoo/training.py).

The recipe is fixed for every candidate, so trials differ by architecture only: Adam, a one-cycle
learning rate (max `lr`), batch 64, label smoothing 0.05 and random shifts of up to 1/16 of the image
side (zero fill). A budget in epochs, cut short by a budget in seconds: the schedule is laid out for the
epochs, and an epoch that would start after the seconds are spent is not started.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrainBudget:
    epochs: int = 20
    seconds: float = 240.0
    lr: float = 2e-2


@dataclass(frozen=True)
class TrainResult:
    epochs: int          # epochs run (fewer than the budget's when the seconds ran out)
    seconds: float
    final_loss: float


def train(model, x: np.ndarray, y: np.ndarray, budget: TrainBudget, seed: int) -> TrainResult:
    """Train `model` (a torch module, NCHW input) in place on x [N,C,H,W] float32, y [N] int64, with the zoo's
    loop (zoo/training.py); shifts of up to 1/16 of the image side."""
    import torch

    from ..zoo.training import fit
    torch.manual_seed(seed)
    epochs, seconds, loss = fit(model, x, y, epochs=budget.epochs, lr=budget.lr, seed=seed,
                                shift=max(1, x.shape[-1] // 16), seconds=budget.seconds)
    return TrainResult(epochs, seconds, loss)


def top1(model, x: np.ndarray, y: np.ndarray) -> float:
    """Float top-1 of a torch model on x, y (batches of 256, no gradients)."""
    import torch
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 256):
            correct += int((model(torch.from_numpy(x[i:i + 256])).argmax(1).numpy() == y[i:i + 256]).sum())
    return correct / len(x)
