"""Brief, seeded CPU training of one candidate (PyTorch, one thread).

The recipe is fixed for every candidate, so trials differ by architecture only: Adam, a one-cycle
learning rate (max `lr`), batch 64, label smoothing 0.05 and random shifts of up to 1/16 of the image
side (zero fill). A budget in epochs, cut short by a budget in seconds: the schedule is laid out for the
epochs, and an epoch that would start after the seconds are spent is not started.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

BATCH = 64


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
    """Train `model` (a torch module, NCHW input) in place on x [N,C,H,W] float32, y [N] int64."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=budget.lr, weight_decay=1e-4)
    steps_per_epoch = (len(x) + BATCH - 1) // BATCH
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=budget.lr, total_steps=budget.epochs * steps_per_epoch)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    shift = max(1, x.shape[-1] // 16)
    started = time.monotonic()
    epochs, loss_sum = 0, float("nan")
    model.train()
    for _ in range(budget.epochs):
        if epochs and time.monotonic() - started > budget.seconds:
            break
        order = rng.permutation(len(xt))
        loss_sum = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            xb = _shifted(xt[idx], rng, shift)
            loss = F.cross_entropy(model(xb), yt[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
        epochs += 1
    model.eval()
    return TrainResult(epochs, time.monotonic() - started, loss_sum / len(xt))


def _shifted(batch, rng, shift: int):
    import torch
    import torch.nn.functional as F
    dx, dy = (int(v) for v in rng.integers(-shift, shift + 1, size=2))
    padded = F.pad(batch, (shift, shift, shift, shift))
    return torch.roll(padded, shifts=(dy, dx), dims=(2, 3))[:, :, shift:-shift, shift:-shift]


def top1(model, x: np.ndarray, y: np.ndarray) -> float:
    """Float top-1 of a torch model on x, y (batches of 256, no gradients)."""
    import torch
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 256):
            correct += int((model(torch.from_numpy(x[i:i + 256])).argmax(1).numpy() == y[i:i + 256]).sum())
    return correct / len(x)
