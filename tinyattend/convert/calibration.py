"""Calibration data: load, check, put in the model's layout, split off held-out samples, quantize.

Sources (`--calib`):
  * `.npy`: one float array, N samples x the model input (without its batch dimension; a batch
    dimension of 1 per sample, N x 1 x ..., is accepted too). float64/int arrays are cast to float32.
  * `.npz`: the array under key "x" or "input", else the first array.
  * a folder of images (PNG/JPEG/BMP, read with Pillow): resized to the input's H x W, converted to RGB
    or grey to match its channels, as 0..255 floats, then `(x - mean) / std` per channel. Default
    mean 0, std 255, i.e. pixels in 0..1. ImageNet-style normalisation:
    `--mean 123.7,116.3,103.5 --std 58.4,57.1,57.4` (numbers on the 0..255 scale).
Arrays are in the layout of `--layout` (nchw or nhwc); by default the model's own layout: NCHW for
ONNX, NHWC for TFLite/Keras/SavedModel. `--mean/--std` apply to image folders only (arrays are used as is).
Without `--calib`, synthetic standard-normal noise is used and the quantization ranges mean nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CalibrationDataError
from ..limits import refuse

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
HELD_OUT_FRACTION = 0.25


@dataclass
class CalibrationSet:
    """Float samples in the float model's layout, (N, *input_shape[1:])."""
    samples: np.ndarray          # used to calibrate (representative dataset)
    held_out: np.ndarray         # not used to calibrate: quantization error is measured on these
    source: str                  # path, or "synthetic"
    synthetic: bool
    warnings: list[str]


def to_layout(x: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Move the channel axis of a sample batch (N, ...) between 'nchw' and 'nhwc'."""
    if src == dst or x.ndim < 3:
        return x
    if src == "nchw":
        return np.moveaxis(x, 1, -1)
    return np.moveaxis(x, -1, 1)


def _sample_shape(input_shape, model_layout: str, layout: str) -> tuple[int, ...]:
    """Shape of one sample (no batch dim) in the data's layout."""
    sample = tuple(input_shape[1:])
    if layout != model_layout and len(sample) >= 2:
        sample = (sample[-1],) + sample[:-1] if layout == "nchw" else sample[1:] + (sample[0],)
    return sample


def load_calibration(calib: str | None, input_shape: tuple[int, ...], model_layout: str, *,
                     layout: str | None = None, mean=None, std=None, max_samples: int = 200,
                     held_out: bool = True, seed: int = 0, progress=None) -> CalibrationSet:
    """Return samples in `model_layout` ('nchw' or 'nhwc') matching `input_shape` (batch first)."""
    if max_samples < 1:
        raise CalibrationDataError(f"--calib-samples {max_samples}: need at least 1 sample",
                                   "use --calib-samples 200 (the default) or another positive number")
    warnings: list[str] = []
    if calib is None:
        refuse(f"synthetic calibration data: {max_samples} samples of input shape {list(input_shape)}",
               4 * max_samples * int(np.prod(input_shape[1:], dtype=object)), "max_calibration_bytes", " bytes")
        data = _noise(max_samples, tuple(input_shape[1:]), seed)
        message = ("no --calib data: calibrating on SYNTHETIC random noise; the int8 quantization ranges are "
                   "NOT meaningful and accuracy will suffer. Give --calib with a few hundred real inputs")
        warnings.append(message)
        source, synthetic = "synthetic", True
    else:
        path = Path(calib)
        if not path.exists():
            raise CalibrationDataError(f"calibration data {path}: no such file or folder",
                                       "give a .npy/.npz array or a folder of images")
        layout = (layout or model_layout).lower()
        if layout not in ("nchw", "nhwc"):
            raise CalibrationDataError(f"--layout {layout}: must be nchw or nhwc")
        if path.is_dir():
            data = _load_image_folder(path, input_shape, model_layout, mean, std)
        else:
            if mean is not None or std is not None:
                warnings.append(f"--mean/--std apply to image folders only; {path.name} is used as is")
            data = _load_array(path)
            data = _check_array_shape(data, path, input_shape, model_layout, layout)
            data = to_layout(data, layout, model_layout)
        source, synthetic = str(path), False
        if len(data) > max_samples:
            pick = np.sort(np.random.default_rng(seed).choice(len(data), max_samples, replace=False))
            data = data[pick]
    data = np.ascontiguousarray(data, dtype=np.float32)
    if held_out:
        if len(data) < 2:
            raise CalibrationDataError(
                f"calibration data {source}: {len(data)} sample(s); need at least 2 (some are held out to measure "
                f"the quantization error)", "give more samples (a few hundred is typical)")
        n_held = max(1, int(round(len(data) * HELD_OUT_FRACTION)))
        order = np.random.default_rng(seed + 1).permutation(len(data))
        calib_part, held_part = data[np.sort(order[n_held:])], data[np.sort(order[:n_held])]
    else:
        calib_part, held_part = data, data[:0]
    if not synthetic and len(calib_part) < 50:
        warnings.append(f"only {len(calib_part)} calibration samples; a few hundred give steadier int8 ranges")
    return CalibrationSet(calib_part, held_part, source, synthetic, warnings)


def _noise(count: int, sample_shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Standard-normal float32 samples, drawn one sample at a time: the same values as one float64 draw of
    the whole block cast to float32, without that block (twice the float32 bytes) ever existing."""
    rng = np.random.default_rng(seed)
    data = np.empty((count, *sample_shape), np.float32)
    for i in range(count):
        data[i] = rng.standard_normal(sample_shape)
    return data


def _load_array(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                keys = list(archive.keys())
                if not keys:
                    raise CalibrationDataError(f"calibration data {path}: the .npz archive is empty",
                                               "save the samples with np.savez(path, x=samples)")
                key = "x" if "x" in keys else "input" if "input" in keys else keys[0]
                data = archive[key]
        elif path.suffix == ".npy":
            # Memory-mapped first: the header's shape is checked against the limit before anything is read.
            data = np.load(path, allow_pickle=False, mmap_mode="r")
            refuse(f"calibration data {path}: shape {data.shape}", data.size * 4, "max_calibration_bytes",
                   " bytes as float32")
            data = np.array(data)
        else:
            raise CalibrationDataError(f"calibration data {path}: unknown format '{path.suffix}'",
                                       "give a .npy or .npz array, or a folder of PNG/JPEG images")
    except CalibrationDataError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err) or "object" in str(err):
            raise CalibrationDataError(f"calibration data {path}: holds Python objects (dtype object), not numbers",
                                       "save a numeric array: np.save(path, np.asarray(samples, np.float32))") from None
        raise CalibrationDataError(f"calibration data {path}: not a readable numpy file ({err})",
                                   "save it with np.save / np.savez") from None
    except MemoryError:
        raise CalibrationDataError(f"calibration data {path}: its header declares more data than this machine "
                                   "can hold", "save the samples with np.save / np.savez") from None
    except (OSError, EOFError) as err:
        raise CalibrationDataError(f"calibration data {path}: not a readable numpy file ({err})",
                                   "save it with np.save / np.savez") from None
    refuse(f"calibration data {path}: shape {data.shape}", data.size * 4, "max_calibration_bytes",
           " bytes as float32")
    if data.dtype.kind not in "fiub" or data.dtype.kind == "b":
        raise CalibrationDataError(f"calibration data {path}: dtype {data.dtype} is not a real number type",
                                   "save float32 (or integer) samples; strings, objects and complex numbers "
                                   "cannot calibrate a model")
    data = data.astype(np.float32)
    if data.size and not np.all(np.isfinite(data)):
        raise CalibrationDataError(f"calibration data {path}: contains NaN or infinite values",
                                   "clean the samples (np.nan_to_num) or drop the bad ones")
    return data


def _check_array_shape(data, path, input_shape, model_layout, layout) -> np.ndarray:
    sample = _sample_shape(input_shape, model_layout, layout)
    expected = f"N x {' x '.join(map(str, sample))} ({layout.upper()})"
    if data.ndim == len(sample) + 2 and data.shape[1] == 1 and tuple(data.shape[2:]) == sample:
        data = data[:, 0]                       # N x 1 x sample: one batch-of-1 per sample
    if data.ndim != len(sample) + 1 or tuple(data.shape[1:]) != sample:
        fix = f"save an array of shape {expected}"
        other = "nhwc" if layout == "nchw" else "nchw"
        other_sample = _sample_shape(input_shape, model_layout, other)
        if data.ndim == len(other_sample) + 1 and tuple(data.shape[1:]) == other_sample and other_sample != sample:
            fix = f"the array looks {other.upper()}: add --layout {other}"
        raise CalibrationDataError(
            f"calibration data {path}: shape {tuple(data.shape)} does not match the model input "
            f"{tuple(input_shape)}; expected {expected}", fix)
    if len(data) == 0:
        raise CalibrationDataError(f"calibration data {path}: 0 samples", "give at least a few hundred samples")
    return data


def _load_image_folder(path: Path, input_shape, model_layout: str, mean, std) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if len(input_shape) != 4:
        raise CalibrationDataError(f"calibration data {path}: a folder of images needs a 4-D image input, "
                                   f"the model's is {tuple(input_shape)}", "give a .npy array instead")
    if model_layout == "nchw":
        _, channels, height, width = input_shape
    else:
        _, height, width, channels = input_shape
    if channels not in (1, 3):
        raise CalibrationDataError(f"calibration data {path}: images need 1 or 3 input channels, the model has "
                                   f"{channels}", "give a .npy array instead")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CalibrationDataError(f"calibration data {path}: no images (.png/.jpg/.jpeg/.bmp) in the folder",
                                   "put calibration images in the folder, or give a .npy array")
    mean_v = _per_channel(mean, 0.0, channels, "--mean")
    std_v = _per_channel(std, 255.0, channels, "--std")
    if np.any(std_v == 0):
        raise CalibrationDataError("--std: a standard deviation of 0 divides by zero", "use positive values")
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert("RGB" if channels == 3 else "L").resize((width, height), Image.BILINEAR)
                pixels = np.asarray(image, dtype=np.float32)
        except (UnidentifiedImageError, OSError) as err:
            raise CalibrationDataError(f"calibration image {file}: cannot be read ({err})",
                                       "remove it from the folder or re-save it as PNG/JPEG") from None
        pixels = pixels.reshape(height, width, channels)
        images.append((pixels - mean_v) / std_v)
    data = np.stack(images).astype(np.float32)          # NHWC
    return to_layout(data, "nhwc", model_layout)


def _per_channel(values, default: float, channels: int, flag: str) -> np.ndarray:
    if values is None:
        return np.full(channels, default, np.float32)
    values = np.asarray(values, np.float32).ravel()
    if values.size == 1:
        return np.full(channels, values[0], np.float32)
    if values.size != channels:
        raise CalibrationDataError(f"{flag}: {values.size} values for a model with {channels} input channels",
                                   f"give 1 or {channels} comma-separated values")
    return values


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """Float -> int8 as TFLite quantizes an input: round(x / scale) + zero_point, saturated."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * scale
