"""`--kernels cmsis-nn` within TFLM's arena (issue 17's RAM ceiling): PAD folded into the CMSIS-NN convolution
that reads it (codegen/graph_rewrites.py, cmsis_nn.folds_pad), bit-exact with TFLM's graph, which keeps the PAD.

Without the fold our cmsis-nn plan is TFLM's own (the same tensors, lifetimes and CMSIS-NN scratch), so with the
stack on top peak RAM was above TFLM's arena wherever a PAD's copy of the image sat at the peak (lowformer-micro's
stem on the M7: 135,808 B against 135,232).
"""
from pathlib import Path

import pytest

from op_harness import assert_bit_exact, assert_bit_exact_on_board, int8_tflite, padded_conv_model
from test_cmsis_nn import needs_cmsis_nn, needs_qemu
from tinyattend.boards import load_board
from tinyattend.codegen.lean import STACK_ALLOWANCE
from tinyattend.pipeline import write_project


def _calls(tmp_path: Path) -> str:
    return (tmp_path / "model" / "model.c").read_text()


@needs_cmsis_nn
@pytest.mark.parametrize("conv", ["depthwise", "conv"])
@pytest.mark.parametrize("pads,stride", [(((1, 1), (1, 1)), 2), (((1, 2), (2, 1)), 1), (((2, 0), (0, 3)), 2)])
def test_pad_folds_into_cmsis_nn_convolution(tmp_path, conv, pads, stride):
    """Padding TFLM's SAME never gives (more before than after, the last row unread) still runs in CMSIS-NN's
    kernel (its plain-C path on the host), bit for bit as TFLM's PAD then VALID convolution."""
    tflite = int8_tflite(lambda tf: padded_conv_model(tf, conv, pads, stride), [(1, 11, 10, 8)])
    report = assert_bit_exact(tflite, tmp_path, kernels="cmsis-nn", samples=30, expect_ops=["PAD"])
    assert "PAD" not in report["ops"] and report["folded_ops"] == 1
    assert report["libraries"] == ["cmsis-nn"]
    wrapper = "arm_depthwise_conv_wrapper_s8(" if conv == "depthwise" else "arm_convolve_wrapper_s8("
    assert wrapper in _calls(tmp_path) and "arm_pad_s8" not in _calls(tmp_path)


@needs_cmsis_nn
def test_cmsis_nn_arena_within_tflm_arena(tmp_path):
    """A stem whose peak is a PAD's copy feeding a stride-2 conv (lowformer-micro's): our cmsis-nn arena plus the
    stack allowance is within the arena TFLM's interpreter plans for the model (its activation part, as make
    bench compares); before the fold it was TFLM's plus the conv's im2col scratch."""
    from tinyattend.verify import tflm_arena
    tflite = int8_tflite(lambda tf: padded_conv_model(tf, "conv", ((1, 1), (1, 1)), 2, hwc=(32, 32, 3)),
                         [(1, 32, 32, 3)])
    report = write_project(tmp_path, tflite, load_board("cortex-m7"), kernels="cmsis-nn", optimize="balanced",
                           model_name="stem", measure_tflm_arena=False)
    head = tflm_arena(tflite)["tflm_arena_head"]
    assert report["arena_bytes"] + STACK_ALLOWANCE <= head, (report["arena_bytes"], head)
    assert report["folded_ops"] == 1


@needs_cmsis_nn
def test_pad_before_a_one_row_conv_stays(tmp_path):
    """arm_convolve_1_x_n_s8 (a one-row input and filter) fails on MVE unless the padding splits as SAME's:
    the PAD stays there."""
    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((1, 16, 4), batch_size=1)
        y = L.ZeroPadding2D(((0, 0), (2, 0)))(L.Conv2D(4, 1)(x))
        return tf.keras.Model(x, L.Conv2D(4, (1, 3), padding="valid")(y))
    tflite = int8_tflite(build, [(1, 1, 16, 4)])
    report = write_project(tmp_path, tflite, load_board("cortex-m55"), kernels="cmsis-nn", optimize="balanced",
                           model_name="row", measure_tflm_arena=False)
    assert "PAD" in report["ops"] and report["folded_ops"] == 0


@needs_cmsis_nn
@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("board", ["cortex-m7", "cortex-m55"])
def test_folded_pads_on_emulated_core(tmp_path, board):
    """The DSP (M7) and MVE (M55) code paths of CMSIS-NN's convolutions with folded, uneven padding."""
    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((13, 12, 8), batch_size=1)
        y = L.ZeroPadding2D(((1, 0), (2, 1)))(L.Conv2D(8, 1, activation="relu")(x))
        y = L.DepthwiseConv2D(3, strides=2, padding="valid", activation="relu6")(y)
        y = L.ZeroPadding2D(((1, 2), (1, 0)))(y)
        return tf.keras.Model(x, L.Conv2D(16, 3, strides=1, padding="valid")(y))
    report = assert_bit_exact_on_board(int8_tflite(build, [(1, 13, 12, 8)]), tmp_path, board=board,
                                       kernels="cmsis-nn", samples=4)
    assert "PAD" not in report["ops"] and report["folded_ops"] == 2
