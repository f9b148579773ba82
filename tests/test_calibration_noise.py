"""Synthetic (noise) calibration data: drawn without a float64 copy of the whole block, and refused with the
numbers when it would be over the calibration-data limit (fuzz seed 21: a valid ONNX model with a
1x3x100000x8 input took 200 noise samples, 1.9 GB as float32, 5.8 GB at its peak, and was killed)."""
from __future__ import annotations

import numpy as np
import pytest

from tinyattend.convert.calibration import _noise, load_calibration
from tinyattend.errors import ResourceLimitError


def test_noise_equals_one_float64_draw_cast_to_float32():
    whole = np.random.default_rng(7).standard_normal((6, 3, 5, 4)).astype(np.float32)
    drawn = _noise(6, (3, 5, 4), 7)
    assert drawn.dtype == np.float32 and np.array_equal(drawn, whole)


def test_noise_over_the_calibration_limit_is_refused_with_the_numbers(monkeypatch):
    monkeypatch.delenv("TINYATTEND_MAX_CALIBRATION_BYTES", raising=False)
    with pytest.raises(ResourceLimitError) as info:
        load_calibration(None, (1, 3, 100000, 8), "nchw", max_samples=200)
    message = str(info.value)
    assert "200 samples of input shape [1, 3, 100000, 8]" in message
    assert "1,920,000,000 bytes is over tinyattend's limit of 1,073,741,824 bytes" in message
    assert "TINYATTEND_MAX_CALIBRATION_BYTES" in info.value.fix
    small = load_calibration(None, (1, 3, 100000, 8), "nchw", max_samples=20)     # fewer samples fit
    assert small.samples.shape[1:] == (3, 100000, 8) and len(small.samples) + len(small.held_out) == 20
