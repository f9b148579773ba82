"""The RAM ceiling (codegen/lean.py, issue 17): with --kernels auto the lean kernel per layer where
the fast one's scratch at the arena's peak puts the plan above TFLM's arena, and --ram: the fastest
plan found within a RAM budget, else a clear refusal. The held-out case: attention over 8x8x24 tokens (FULLY_CONNECTED, BATCH_MATMUL, SOFTMAX),
whose fast BATCH_MATMUL widens both operands to int16 (18,432 B of arena with the fast kernels
everywhere, TFLM 14,640 B, the portable kernels 9,728 B)."""
import argparse
import functools

import numpy as np
import pytest

from op_harness import assert_bit_exact, int8_tflite
from tinyattend.boards import load_board
from tinyattend.errors import DoesNotFitError, OptionError
from tinyattend.pipeline import arena_limit, write_project


@functools.lru_cache(maxsize=None)
def attention_tflite() -> bytes:
    def build(tf):
        rng = np.random.default_rng(3)

        def dense():
            w = tf.constant(rng.uniform(-1, 1, (24, 24)).astype("float32"))
            b = tf.constant(rng.uniform(-0.5, 0.5, (24,)).astype("float32"))
            return lambda t: tf.matmul(t, w) + b
        q_proj, k_proj, v_proj, o_proj = (dense() for _ in range(4))

        @tf.function
        def model(x):
            x = tf.reshape(x, (1, 64, 24))
            q, k, v = q_proj(x), k_proj(x), v_proj(x)
            a = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) * 0.2)
            return o_proj(tf.matmul(a, v))
        return model
    return int8_tflite(build, [(1, 8, 8, 24)])


def generate(tmp_path, name, optimize="balanced", ram=None, kernels="auto", tflm=False):
    return write_project(tmp_path / name, attention_tflite(), load_board("cortex-m7"), kernels=kernels,
                         optimize=optimize, model_name="attention", measure_tflm_arena=tflm, ram=ram)


def test_lean_kernel_where_the_fast_scratch_puts_the_plan_above_tflm(tmp_path):
    from tinyattend.api import verify
    from tinyattend.codegen.lean import STACK_ALLOWANCE
    fast = generate(tmp_path, "speed", optimize="speed", tflm=True)     # --optimize speed: fast everywhere
    tflm = fast["tflm_arena_bytes"]
    portable = generate(tmp_path, "portable", kernels="portable")
    balanced = generate(tmp_path, "balanced", tflm=True)
    assert not fast["lean_ops"] and fast["arena_bytes"] > tflm          # the case the ceiling is for
    assert balanced["lean_ops"] and all(balanced["ops"][p] == "BATCH_MATMUL" for p in balanced["lean_ops"])
    assert balanced["arena_bytes"] + STACK_ALLOWANCE <= tflm and portable["arena_bytes"] < tflm
    model_c = (tmp_path / "balanced" / "model" / "model.c").read_text()
    assert "ta_batch_matmul_s8(" in model_c and "ta_fully_connected_s8_fast(" in model_c
    # the lean layers keep TFLM's arithmetic: the whole model bit-exact (host, ASan/UBSan)
    assert verify(tmp_path / "balanced", samples=8, sanitize=True).bit_exact
    # without the TFLM figure (or below it) nothing is leaned: the fast kernels stay
    assert generate(tmp_path, "unmeasured")["lean_ops"] == []
    # the floor that lets code generation skip waiting for TFLM's measurement is below TFLM's arena
    from tinyattend.codegen.lean import tflm_arena_floor
    from tinyattend.ir.tflite_reader import read_tflite
    assert 0 < tflm_arena_floor(read_tflite(attention_tflite(), "attention")) <= tflm


def test_ram_budget_takes_the_fastest_plan_that_fits_else_refuses(tmp_path):
    stack = load_board("cortex-m7").firmware.get("stack_size", 16 * 1024)
    fast = generate(tmp_path, "fast", optimize="speed")
    # a budget the fast plan fits: nothing changes
    roomy = generate(tmp_path, "roomy", optimize="speed", ram=stack + fast["arena_bytes"])
    assert roomy["lean_ops"] == [] and roomy["arena_bytes"] == fast["arena_bytes"]
    assert roomy["ram_budget_bytes"] == stack + fast["arena_bytes"]
    # one byte less: lean kernels at the peak until it fits
    tight = generate(tmp_path, "tight", optimize="speed", ram=stack + fast["arena_bytes"] - 1)
    assert tight["lean_ops"] and tight["arena_bytes"] <= fast["arena_bytes"] - 1
    # below what any choice reaches: refused, with the numbers and the fix
    with pytest.raises(DoesNotFitError, match=r"arena needs [\d,]+ B .* leaves 1,000 B .* too many") as info:
        generate(tmp_path, "small", optimize="speed", ram=stack + 1000)
    assert "--ram" in info.value.fix


def test_ram_option_and_budget_arithmetic():
    from tinyattend.api import convert
    from tinyattend.cli import _bytes
    assert (_bytes("262144"), _bytes("256K"), _bytes("1m")) == (262144, 262144, 1 << 20)
    for bad in ("0", "-4K", "lots", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            _bytes(bad)
    with pytest.raises(OptionError, match="ram="):
        convert("missing.onnx", ram=-1)
    m7 = load_board("cortex-m7")
    stack = int(m7.firmware.get("stack_size", 16 * 1024))
    assert arena_limit(m7, 100_000) == 100_000 - stack
    assert arena_limit(m7, None) == m7.ram.length - stack      # default: the board's RAM
    assert arena_limit(load_board("host"), None) is None
