"""The fast requantization's SMMLAR sum must stay inside int32 (codegen/ops/_fast.rounded_sum_fits).

With a right shift of 24 and an output zero point of -128 the rounding constant is about -2^31, and a
large negative accumulator added to it would wrap: the generator then takes TFLM's requantization."""
import numpy as np

from tinyattend.codegen.ops._fast import channel_requant
from tinyattend.ir.quant import multiply_by_quantized_multiplier


def _wrapped_fast(acc: int, m: int, round_: int, right: int) -> int:
    """ta_requantize_fast_acc with int32 wrap-around, as the kernels compute it."""
    product = (2 * acc * m + (1 << 31)) >> 32
    total = (round_ + (-1 if acc < 0 else 0) + product + (1 << 31)) % (1 << 32) - (1 << 31)
    return max(-128, min(127, total >> right))


def test_a_sum_that_would_wrap_takes_the_exact_form():
    weights = np.full((1, 300), 127, np.int64)            # sum |w| * 255 ~ 9.7e6 < 2^30: the accumulator bound holds
    multiplier, shift, zero_point = np.array([2_000_000_000]), np.array([-24]), -128
    q = channel_requant(weights, None, multiplier, shift, 0, zero_point)
    assert not q.fast
    # ... and it had to: the worst negative accumulator wraps the fast form's sum
    acc = -int(weights.sum()) * 255
    round_ = (1 << 23) + zero_point * (1 << 24)
    tflm = max(-128, min(127, multiply_by_quantized_multiplier(acc, 2_000_000_000, -24) + zero_point))
    assert _wrapped_fast(acc, 2_000_000_000, round_, 24) != tflm


def test_usual_layers_keep_the_fast_form():
    rng = np.random.default_rng(0)
    weights = rng.integers(-127, 128, (16, 144))
    q = channel_requant(weights, rng.integers(-5000, 5000, 16), np.full(16, 1_500_000_000), np.full(16, -9), -3, -128)
    assert q.fast
