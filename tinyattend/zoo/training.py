"""The zoo's training loop on CPU: the demo model's (train_demo.py) and every search candidate's.

Adam (weight decay 1e-4), a one-cycle learning rate, batch 64, label smoothing 0.05, and a random shift
of up to `shift` pixels per batch (zero fill). Shuffling and shifts come from a numpy generator seeded
with `seed`, so a run is reproducible. `seconds`: no epoch starts after that many seconds of training
(the schedule is still laid out for `epochs`).
"""
from __future__ import annotations

import time

import numpy as np

BATCH = 64


def fit(model, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, seed: int, shift: int = 2,
        seconds: float | None = None, on_epoch=None) -> tuple[int, float, float]:
    """Train `model` in place on x [N,C,H,W] float32, y [N] int64; returns (epochs run, seconds, last
    epoch's mean loss). `on_epoch(epoch, loss)` is called after each epoch."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * ((len(x) + BATCH - 1) // BATCH))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    started = time.monotonic()
    done, mean_loss = 0, float("nan")
    model.train()
    for epoch in range(epochs):
        if done and seconds is not None and time.monotonic() - started > seconds:
            break
        order = rng.permutation(len(xt))
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            dx, dy = (int(v) for v in rng.integers(-shift, shift + 1, size=2))
            xb = F.pad(xt[idx], (shift, shift, shift, shift))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))[:, :, shift:-shift, shift:-shift]
            loss = F.cross_entropy(model(xb), yt[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        done, mean_loss = epoch + 1, total / len(xt)
        if on_epoch is not None:
            on_epoch(done, mean_loss)
    model.eval()
    return done, time.monotonic() - started, mean_loss
