"""The fast BATCH_MATMUL kernel (templates/kernels/fast/ta_batch_matmul_s8_fast.c) against TFLM.

Single-op models written directly as TFLite flatbuffers so that the shapes (lowformer-micro's
attention products among them), adj_x / adj_y, depth (odd, not a multiple of 4), odd rows and
columns, batch broadcasting and the zero points are exactly what a case needs. (The attention
models of tests/test_ops_matmul.py, from the TFLite converter, run the portable kernel.) One
operand is the model input, the other a constant, or the input is both. The kernel widens each
operand to int16 along the depth (transposing the strided ones 4 x 4) and multiplies 2 x 2 output
tiles; the short requantization is used only when the generator proves it exact, else TFLM's
(test_bmm_fast_exact_requant_fallback).
"""
import re
import shutil

import numpy as np
import pytest

from op_harness import FlatbufferModel, assert_bit_exact


def bmm_tflite(lhs_shape, rhs_shape, quant, *, adj_x=False, adj_y=False, constant="rhs", seed=1) -> bytes:
    """One int8 BATCH_MATMUL: lhs (quant[0]) times rhs (quant[1]), output quant[2]. `constant`: which
    operand is a random constant ("lhs" or "rhs"; the other is the model input), or "none" (the input is
    both operands: lhs_shape == rhs_shape, quant[0] == quant[1])."""
    rows = lhs_shape[-1] if adj_x else lhs_shape[-2]
    cols = rhs_shape[-2] if adj_y else rhs_shape[-1]
    out_shape = (*np.broadcast_shapes(tuple(lhs_shape[:-2]), tuple(rhs_shape[:-2])), rows, cols)
    model = FlatbufferModel()
    schema, tensor = model.schema, model.int8_tensor
    rng = np.random.default_rng(seed)

    if constant == "none":
        lhs = rhs = x = tensor("x", lhs_shape, quant[0])
    elif constant == "rhs":
        lhs = x = tensor("x", lhs_shape, quant[0])
        rhs = tensor("c", rhs_shape, quant[1], rng.integers(-128, 128, size=rhs_shape))
    else:
        lhs = tensor("c", lhs_shape, quant[0], rng.integers(-128, 128, size=lhs_shape))
        rhs = x = tensor("x", rhs_shape, quant[1])
    y = tensor("y", out_shape, quant[2])
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, np.array([lhs, rhs], np.int32), np.array([y], np.int32)
    op.builtinOptionsType = schema.BuiltinOptions.BatchMatMulOptions
    op.builtinOptions = schema.BatchMatMulOptionsT()
    op.builtinOptions.adjX, op.builtinOptions.adjY = adj_x, adj_y
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.BATCH_MATMUL
    code.version = 1
    return model.build(code, [op], [x], [y], "tinyattend fast BATCH_MATMUL test")


def bmm_calls(out_dir) -> list[str]:
    """The function of every BATCH_MATMUL call in model.c."""
    model_c = next(out_dir.rglob("model.c")).read_text()
    return re.findall(r"(ta_batch_matmul_s8\w*)\(&op\d+_params", model_c)


def assert_fast(out_dir, count=1, fast_requant=None):
    calls = bmm_calls(out_dir)
    assert calls == ["ta_batch_matmul_s8_fast"] * count, calls
    if fast_requant is not None:
        model_c = next(out_dir.rglob("model.c")).read_text()
        assert f".fast_requant = {int(fast_requant)}," in model_c


ZP_ZERO = ((0.02, 0), (0.03, 0), (0.05, 0))
ZP_EXTREME = ((0.02, -128), (0.03, 127), (0.9, 5))
ZP_MIXED = ((0.015, 37), (0.04, -3), (0.35, -11))

# (lhs shape, rhs shape, adj_x, adj_y, quantization, constant operand)
CASES = [
    ((1, 1, 16, 40), (1, 1, 16, 40), False, True, ZP_MIXED, "rhs"),     # lowformer's q k^T: depth 40
    ((1, 2, 16, 16), (1, 2, 16, 32), False, False, ZP_EXTREME, "rhs"),  # lowformer's 2-head scores v
    ((2, 7, 5), (2, 7, 6), True, False, ZP_MIXED, "rhs"),          # both operands strided, depth 7
    ((1, 6, 9), (1, 3, 6), True, True, ZP_EXTREME, "lhs"),         # depth 6, 9 x 3 output
    ((1, 5, 11), (1, 5, 11), False, True, ZP_MIXED, "none"),       # x x^T, one tensor both operands
    ((2, 1, 5, 13), (1, 3, 13, 9), False, False, ZP_ZERO, "rhs"),  # both broadcast: batch (2, 3)
    ((1, 2, 3, 8, 3), (2, 1, 1, 8, 6), True, False, ZP_EXTREME, "lhs"),  # rank 5, lhs broadcast
    ((1, 1), (1, 3), False, False, ZP_MIXED, "rhs"),               # rank 2, depth 1, a single row
]


@pytest.mark.parametrize("lhs_shape,rhs_shape,adj_x,adj_y,quant,constant", CASES)
def test_bmm_fast_shapes(tmp_path, lhs_shape, rhs_shape, adj_x, adj_y, quant, constant):
    tflite = bmm_tflite(lhs_shape, rhs_shape, quant, adj_x=adj_x, adj_y=adj_y, constant=constant)
    assert_bit_exact(tflite, tmp_path, samples=20, kernels="fast")
    assert_fast(tmp_path, fast_requant=True)


# A multiplier above 1 (a left shift), and a depth whose accumulator may reach 2^30
# (255 * 255 * 16520 > 2^30 with both zero points -128): TFLM's requantization.
FALLBACK_CASES = [((1, 4, 9), (1, 9, 5), ((0.5, 3), (0.5, -2), (0.1, 0))),
                  ((1, 1, 16520), (1, 16520, 1), ((1e-4, -128), (1e-4, -128), (0.3, 0)))]


@pytest.mark.parametrize("lhs_shape,rhs_shape,quant", FALLBACK_CASES)
def test_bmm_fast_exact_requant_fallback(tmp_path, lhs_shape, rhs_shape, quant):
    tflite = bmm_tflite(lhs_shape, rhs_shape, quant)
    assert_bit_exact(tflite, tmp_path, samples=20, kernels="fast")
    assert_fast(tmp_path, fast_requant=False)


def test_bmm_size_keeps_portable(tmp_path):
    """--optimize size takes the portable kernel: no scratch."""
    tflite = bmm_tflite((1, 4, 6), (1, 6, 5), ZP_MIXED)
    report = assert_bit_exact(tflite, tmp_path, samples=10, kernels="auto", optimize="size", sanitize=False)
    assert bmm_calls(tmp_path) == ["ta_batch_matmul_s8"] and report["scratch_bytes"] == 0


@pytest.mark.slow
def test_bmm_fast_on_board(tmp_path):
    """The DSP instructions (LDRD, SMLAD, SXTAB16, PKH, SMMLAR) on QEMU's Cortex-M7: lowformer's 2-head
    scores v (rhs transposed 4 x 4), its q k^T (x x^T: both operands depth-contiguous), odd sizes with
    both operands strided and extreme zero points, and TFLM's requantization (a left shift)."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm and arm-none-eabi-gcc are needed")
    from op_harness import assert_bit_exact_on_board
    models = [(bmm_tflite((1, 2, 16, 16), (1, 2, 16, 32), ZP_MIXED), True),
              (bmm_tflite((1, 1, 16, 40), (1, 1, 16, 40), ZP_EXTREME, adj_y=True, constant="none"), True),
              (bmm_tflite((2, 7, 5), (2, 7, 6), ZP_EXTREME, adj_x=True, constant="lhs"), True),
              (bmm_tflite(*FALLBACK_CASES[0]), False)]
    for k, (tflite, fast) in enumerate(models):
        assert_bit_exact_on_board(tflite, tmp_path / str(k), board="cortex-m7", kernels="fast", samples=3)
        assert_fast(tmp_path / str(k), fast_requant=fast)
