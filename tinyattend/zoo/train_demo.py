"""Train the demo model: a narrow AttendNeXt (with DC-ACs) on sklearn's bundled digits, on CPU.

    python -m tinyattend.zoo.train_demo --out models

Data: sklearn.datasets.load_digits (1797 8x8 images, no download), scaled to [0, 1], upscaled
x4 by nearest neighbour to 32x32 and repeated over 3 channels (NCHW float32). Split: stratified
75% train / 25% held-out test (random_state 0). Training: seeded, Adam + cosine schedule,
random +-2 pixel shifts. Writes, under --out:

    attendnext_digits.onnx        the trained model (BN folded, opset 14, input [1,3,32,32])
    attendnext_digits_calib.npy   calibration images from the TRAIN split, [N,3,32,32] float32
    attendnext_digits_test.npz    held-out test set: x [M,3,32,32] float32, y [M] int64
    README.md                     how it was trained and the measured float top-1
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

INPUT_SIZE = 32
CALIB_SAMPLES = 100      # keeps the committed files under 2 MB
SEED = 0


def load_digits_nchw(seed: int = SEED):
    """(x_train, y_train, x_test, y_test): [N,3,32,32] float32 in [0,1], int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)                     # [N, 8, 8]
    x = x.repeat(INPUT_SIZE // 8, axis=1).repeat(INPUT_SIZE // 8, axis=2)   # nearest x4
    x = np.repeat(x[:, None], 3, axis=1)                               # [N, 3, 32, 32]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return x_tr, y_tr, x_te, y_te


def train(x_tr, y_tr, epochs: int, seed: int = SEED):
    import torch

    from .attendnext import attendnext_digits
    from .training import fit

    torch.manual_seed(seed)
    model = attendnext_digits(num_classes=10, input_size=INPUT_SIZE)
    fit(model, x_tr, y_tr, epochs=epochs, lr=3e-3, seed=seed, shift=2,
        on_epoch=lambda epoch, loss: print(f"epoch {epoch:2d}/{epochs}  loss {loss:.4f}", flush=True))
    return model


def onnx_top1(onnx_path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Float top-1 of an exported model with ONNX Runtime (batch 1, as exported)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    pred = [int(np.argmax(sess.run(None, {name: x[i:i + 1]})[0])) for i in range(len(x))]
    return float(np.mean(np.asarray(pred) == y))


README = """# Demo model: AttendNeXt on digits

`attendnext_digits.onnx` is the narrow AttendNeXt configuration `attendnext-digits` of the zoo
(`tinyattend/zoo/attendnext.py`; a reconstruction, see `../shared/design/models.md`): stem 3x3/2,
inverted-residual blocks each preceded by a double-condensing attention condenser (DC-AC), 1x1
head, global average pool, fully connected; {params} parameters, {macs} MACs per image. ONNX
opset 14, input `input` [1,3,32,32] float32 NCHW in [0,1], output `logits` [1,10], BatchNorm folded.

## Data and training
- sklearn's bundled `load_digits` (1797 8x8 images, no download), scaled to [0,1] (pixel/16),
  upscaled x4 by nearest neighbour to 32x32, repeated over 3 channels.
- Stratified split, `random_state=0`: {n_train} training images, {n_test} held-out test images.
- Seeded (seed {seed}) CPU training: Adam, one-cycle LR (max 3e-3), batch 64, {epochs} epochs,
  label smoothing 0.05, random +-2 pixel shifts. Training took {train_s:.0f} s on this machine
  ({machine}, torch {torch_version}).

## Result
- Float top-1 on the {n_test} held-out test images (ONNX Runtime): **{top1:.2f}%**.

## Files
- `attendnext_digits_calib.npy`: {n_calib} images from the TRAINING split, [N,3,32,32] float32
  (calibration data for int8 conversion: `tinyattend convert ... --calib models/attendnext_digits_calib.npy`).
- `attendnext_digits_test.npz`: the held-out test set, `x` [{n_test},3,32,32] float32 and `y` int64 labels.

## Regenerate
    pip install torch==2.13.0
    python -m tinyattend.zoo.train_demo --out models --epochs {epochs}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)

    from .registry import require_torch
    torch = require_torch()
    from .counter import count_model
    from .export import export_model

    torch.set_num_threads(1)   # small ops: one thread is faster than two on a shared CPU
    x_tr, y_tr, x_te, y_te = load_digits_nchw()
    start = time.time()
    model = train(x_tr, y_tr, args.epochs)
    train_s = time.time() - start
    count = count_model(model, (INPUT_SIZE, INPUT_SIZE))

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = export_model(model, args.out / "attendnext_digits.onnx", INPUT_SIZE)
    calib = x_tr[np.random.default_rng(SEED).choice(len(x_tr), CALIB_SAMPLES, replace=False)]
    np.save(args.out / "attendnext_digits_calib.npy", calib)
    np.savez_compressed(args.out / "attendnext_digits_test.npz", x=x_te, y=y_te)
    top1 = onnx_top1(onnx_path, x_te, y_te)
    (args.out / "README.md").write_text(README.format(
        params=f"{count.params:,}", macs=f"{count.macs / 1e6:.2f}M", n_train=len(x_tr), n_test=len(x_te),
        seed=SEED, epochs=args.epochs, train_s=train_s, machine=f"{platform.machine()}, 1 thread",
        torch_version=torch.__version__, top1=100 * top1, n_calib=CALIB_SAMPLES))
    print(f"float top-1 on {len(x_te)} held-out digits: {100 * top1:.2f}%  (training {train_s:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
