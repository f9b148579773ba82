"""The search's labelled images: read, checked, and split once (seeded, stratified).

DATA is one of
- `digits`: sklearn's bundled digits (1797 8x8 images), upscaled x4 to 32x32 and repeated over 3 channels,
  split exactly as the demo model was (zoo/train_demo.py: 1347 to train, the same 450 held out);
- a folder with one sub-folder of images per class (the sub-folder's name is the class name);
- an `.npz` with `x` (N x H x W x C or N x C x H x W; uint8 0..255 or float) and `y` (N integer labels).
Pixels are scaled to [0, 1] (uint8 and images: / 255; floats are kept). Arrays are NCHW float32, as the
zoo's PyTorch models take them. The held-out split is never trained on, nor used for calibration.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm")
MIN_PER_CLASS = 5          # at least one held-out and a few training images per class
MIN_SIDE, MAX_SIDE = 8, 256
HELD_OUT = 0.25


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray        # [N, C, H, W] float32
    y_train: np.ndarray        # [N] int64, 0..classes-1
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width)"""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> str:
        c, h, w = self.shape
        return (f"{self.name}: {len(self.x_train)} training and {len(self.x_test)} held-out images, "
                f"{h}x{w}x{c}, {self.num_classes} classes")


def load_dataset(spec: str, seed: int = 0) -> Dataset:
    """`digits`, a folder of class sub-folders, or an .npz; DataError says what is wrong and how to fix it."""
    if spec == "digits":
        from ..zoo.train_demo import load_digits_nchw
        x_tr, y_tr, x_te, y_te = load_digits_nchw(seed)
        return Dataset("digits", x_tr, y_tr, x_te, y_te, tuple(str(d) for d in range(10)))
    path = Path(spec)
    if path.is_dir():
        x, y, names = _read_folder(path)
    elif path.is_file():
        x, y, names = _read_npz(path)
    else:
        raise DataError(f"--data {spec}: no such file or folder",
                        "pass `digits`, a folder with one sub-folder of images per class, or an .npz with x and y")
    return split(path.name, x, y, names, seed)


def split(name: str, x: np.ndarray, y: np.ndarray, names: tuple[str, ...], seed: int) -> Dataset:
    """Checks, then a seeded stratified split: HELD_OUT of each class is held out."""
    _check(name, x, y, names)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for label in range(len(names)):
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        test[members[:max(1, int(round(HELD_OUT * len(members))))]] = True
    return Dataset(name, x[~test], y[~test], x[test], y[test], names)


def _check(name: str, x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> None:
    if len(names) < 2:
        raise DataError(f"{name}: only one class ({names[0] if names else 'none'}); a classifier needs two or more",
                        "add images of at least one more class")
    counts = np.bincount(y, minlength=len(names))
    few = [f"{names[i]} ({int(n)})" for i, n in enumerate(counts) if n < MIN_PER_CLASS]
    if few:
        raise DataError(f"{name}: too few samples in class(es) {', '.join(few[:8])}: each class needs at least "
                        f"{MIN_PER_CLASS} (some are held out to score the int8 model)",
                        "add images to those classes, or leave them out")
    _, h, w = x.shape[1:]
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_SIDE:
        raise DataError(f"{name}: images are {h}x{w}; the search takes {MIN_SIDE} to {MAX_SIDE} pixels a side",
                        f"resize the images (a microcontroller model rarely needs more than {MAX_SIDE}x{MAX_SIDE})")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{name}: x holds NaN or infinite values", "clean the data (np.nan_to_num) and save it again")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("x", "y") if k not in data.files]
            if missing:
                raise DataError(f"{path}: no array named {' or '.join(missing)} (it has {', '.join(data.files) or 'none'})",
                                "save it with np.savez(path, x=images, y=labels)")
            x, y = np.asarray(data["x"]), np.asarray(data["y"])
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npz ({err})", "save it with np.savez(path, x=images, y=labels)") from None
    if x.ndim == 3:
        x = x[..., None]                                  # N x H x W grey images
    if x.ndim != 4:
        raise DataError(f"{path}: x has shape {x.shape}; images are N x H x W x C or N x C x H x W",
                        "reshape x to 4 dimensions (N x H x W x C)")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: y has shape {y.shape} for {len(x)} images; one label per image is needed",
                        "give y as a 1-D array of N integer labels")
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)))):
        raise DataError(f"{path}: labels are {y.dtype}, not integers", "give y as integer class indices")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{path}: x is {x.dtype}, not numbers", "give x as uint8 (0..255) or float images")
    if x.shape[-1] not in (1, 3) and x.shape[1] in (1, 3):
        x = np.transpose(x, (0, 2, 3, 1))                 # NCHW -> NHWC
    if x.shape[-1] not in (1, 3):
        raise DataError(f"{path}: x has shape {x.shape}: neither its last nor its second axis is 1 or 3 channels",
                        "give grey (1 channel) or RGB (3 channels) images, N x H x W x C")
    labels, y = np.unique(y.astype(np.int64), return_inverse=True)
    pixels = x.astype(np.float32) / (255.0 if np.issubdtype(x.dtype, np.integer) else 1.0)
    return np.ascontiguousarray(np.transpose(pixels, (0, 3, 1, 2))), y.astype(np.int64), tuple(str(v) for v in labels)


def _read_folder(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{path}: no class sub-folders", "put each class's images in a sub-folder named after it")
    images, labels, size, grey = [], [], None, True
    for label, folder in enumerate(classes):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        for file in files:
            try:
                with Image.open(file) as image:
                    image.load()
                    grey &= image.mode in ("L", "1", "I;16")
                    rgb = image.convert("RGB")
            except (UnidentifiedImageError, OSError) as err:
                raise DataError(f"{file}: cannot be read as an image ({err})",
                                "remove it or re-save it as PNG/JPEG") from None
            if size is None:
                size = rgb.size
            elif rgb.size != size:
                raise DataError(f"{file}: {rgb.size[0]}x{rgb.size[1]} pixels, other images are {size[0]}x{size[1]}",
                                "resize all images to one size")
            images.append(np.asarray(rgb, np.uint8))
            labels.append(label)
    if not images:
        raise DataError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class sub-folders",
                        "put the images in one sub-folder per class")
    x = np.stack(images)
    if grey:
        x = x[..., :1]
    pixels = x.astype(np.float32) / 255.0
    names = tuple(c.name for c in classes)
    counts = np.bincount(np.asarray(labels), minlength=len(names))
    empty = [names[i] for i, n in enumerate(counts) if n == 0]
    if empty:
        raise DataError(f"{path}: class folder(s) with no images: {', '.join(empty[:8])}",
                        "add images or remove the empty folders")
    return np.ascontiguousarray(np.transpose(pixels, (0, 3, 1, 2))), np.asarray(labels, np.int64), names
