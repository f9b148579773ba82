"""The streamed attention-condenser tail (codegen/fusion/upsample_mul.py, issue 17):
RESIZE_NEAREST_NEIGHBOR -> MUL [-> residual ADD of V] as one row-by-row pass, bit-exact against the
unfused TFLM graph on the host (ASan + UBSan) and the emulated M7; what it does not take stays unfused."""
import shutil

import numpy as np

import pytest

from op_harness import assert_bit_exact, assert_bit_exact_on_board, int8_tflite
from tinyattend.codegen.fusion.policy import FORCE_VARIABLE


def condenser(hwc, factor, scale=None, residual=False, v_first=True, half=False, add_v_first=False):
    """V -> (pool, conv, sigmoid [, * scale]) -> nearest upsampling x factor -> V * A [+ V]: the
    zoo's attention condenser and the patterns a user's model has. scale: a number, or "channel"
    for a per-channel constant (the zoo's S)."""
    if scale == "channel":
        scale = np.linspace(0.25, 1.5, hwc[2]).astype(np.float32)

    def build(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        v = tf.keras.layers.Conv2D(hwc[2], 1, activation="relu")(x)
        a = tf.keras.layers.MaxPooling2D(factor)(v)
        a = tf.keras.layers.Conv2D(hwc[2], 3, padding="same", activation="sigmoid")(a)
        if scale is not None:
            a = tf.keras.layers.Lambda(lambda t: t * scale)(a)
        a = tf.keras.layers.Lambda(lambda t: tf.compat.v1.image.resize_nearest_neighbor(
            t, hwc[:2], half_pixel_centers=half))(a)
        y = tf.keras.layers.Multiply()([v, a] if v_first else [a, v])
        if residual:
            y = tf.keras.layers.Add()([v, y] if add_v_first else [y, v])
        return tf.keras.Model(x, y)
    return build


CASES = [
    # hwc, factor, options
    ((16, 12, 8), 2, {}),                                  # AC: V * A, V dies at the MUL (in place)
    ((12, 10, 6), 2, {"scale": 0.5, "v_first": False, "half": True}),   # scaled map, A first, half pixel
    ((12, 10, 5), 2, {"residual": True}),                 # V * A + V, odd channels
    ((16, 12, 3), 4, {"scale": "channel", "residual": True, "v_first": False, "add_v_first": True}),  # V + S*A * V
    ((8, 12, 7), 4, {"scale": "channel", "half": True}),   # DC-AC: x4, per-channel S, no residual
]


@pytest.mark.slow
@pytest.mark.parametrize("hwc,factor,options", CASES)
def test_upsample_mul_is_bit_exact_on_the_host(tmp_path, monkeypatch, hwc, factor, options):
    tflite = int8_tflite(condenser(hwc, factor, **options), [(1, *hwc)], low=-2.0, high=2.0)
    residual = options.get("residual", False)
    for kernels in ("portable", "fast"):
        report = assert_bit_exact(tflite, tmp_path / kernels, samples=12, kernels=kernels,
                                  expect_ops=["RESIZE_NEAREST_NEIGHBOR", "MUL", *(["ADD"] if residual else [])])
        assert report["upsample_mul_ops"] == 1 and report["upsample_mul_residuals"] == int(residual)
        assert "RESIZE_NEAREST_NEIGHBOR" not in report["ops"] and "UPSAMPLE_MUL" in report["ops"]
        # only the scale's MUL, on the small map, is left of the tail
        assert "ADD" not in report["ops"] and report["ops"].count("MUL") == ("scale" in options)
        # the full-size map (and V * A) is never written: the arena shrinks
        assert report["arena_bytes"] < report["arena_unfused_bytes"]
    if CASES.index((hwc, factor, options)) > 0:
        return              # the unfused graph is TFLM's ops, each tested on its own: once is enough here
    monkeypatch.setenv(FORCE_VARIABLE, "off")
    unfused = assert_bit_exact(tflite, tmp_path / "off", samples=2, kernels="fast")
    assert unfused["upsample_mul_ops"] == 0
    # the full-size map is never written: the arena shrinks
    assert report["arena_bytes"] < unfused["arena_bytes"]


def generated_ops(tflite: bytes) -> dict:
    from tinyattend.boards import load_board
    from tinyattend.codegen.generate import generate
    from tinyattend.codegen.lowering import Target
    from tinyattend.ir.tflite_reader import read_tflite
    return generate(read_tflite(tflite), Target(board=load_board("host"), kernels="fast"), "m").report


def test_v_read_after_the_residual_is_not_fused():
    # (V + V * A) * V: V outlives the ADD, the unfused MUL writes over the upsampled map and the ADD
    # over the product: fusing would save nothing
    hwc = (8, 12, 4)

    def build(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        v = tf.keras.layers.Conv2D(4, 1, activation="relu")(x)
        a = tf.keras.layers.Conv2D(4, 1, activation="sigmoid")(tf.keras.layers.MaxPooling2D(4)(v))
        a = tf.keras.layers.Lambda(lambda t: tf.compat.v1.image.resize_nearest_neighbor(t, hwc[:2]))(a)
        y = tf.keras.layers.Add()([tf.keras.layers.Multiply()([v, a]), v])
        return tf.keras.Model(x, tf.keras.layers.Multiply()([y, v]))
    report = generated_ops(int8_tflite(build, [(1, *hwc)]))
    assert report["upsample_mul_ops"] == 0 and "RESIZE_NEAREST_NEIGHBOR" in report["ops"]


def test_a_residual_of_another_tensor_takes_only_the_mul():
    # V * A + W: V dies at the MUL, which is fused in place over V; the ADD of W stays an ADD
    hwc = (8, 8, 4)

    def build(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        v = tf.keras.layers.Conv2D(4, 1, activation="relu")(x)
        a = tf.keras.layers.Conv2D(4, 1, activation="sigmoid")(tf.keras.layers.MaxPooling2D(2)(v))
        a = tf.keras.layers.Lambda(lambda t: tf.compat.v1.image.resize_nearest_neighbor(t, hwc[:2]))(a)
        return tf.keras.Model(x, tf.keras.layers.Add()([tf.keras.layers.Multiply()([v, a]), x]))
    report = generated_ops(int8_tflite(build, [(1, *hwc)]))
    assert report["upsample_mul_ops"] == 1 and report["upsample_mul_residuals"] == 0 and "ADD" in report["ops"]


def test_the_residual_tail_writes_over_v_and_nothing_live_early():
    # byte by byte over the arena plan (test_fused_expand_dw.clobbered): the fused op's output
    # takes V's bytes, and no buffer is overwritten before its last read
    from dataclasses import replace
    from test_fused_expand_dw import clobbered
    from tinyattend.boards import load_board
    from tinyattend.codegen.generate import generate
    from tinyattend.codegen.lowering import Target
    from tinyattend.ir.tflite_reader import read_tflite
    graph = read_tflite(int8_tflite(condenser((12, 8, 5), 4, scale="channel", residual=True, add_v_first=True),
                                    [(1, 12, 8, 5)]))
    for kernels in ("portable", "fast"):
        generated = generate(graph, Target(board=load_board("host"), kernels=kernels), "m")
        fused = next(op for op in generated.graph.ops if op.type == "UPSAMPLE_MUL")
        assert fused.options["residual"] is not None
        assert generated.buffer_of[fused.outputs[0]] == generated.buffer_of[fused.inputs[1]]     # in place over V
        assert clobbered(generated, generated.graph) == []
    # the check sees the two scratch rows moved onto V
    position = generated.graph.ops.index(fused)
    offsets = dict(generated.plan.offsets)
    offsets[f"scratch{position}"] = offsets[generated.buffer_of[fused.inputs[1]]]
    broken = replace(generated, plan=replace(generated.plan, offsets=offsets))
    assert any(f"op {position} " in p for p in clobbered(broken, generated.graph))


def test_a_resize_read_twice_is_not_fused():
    hwc = (8, 8, 4)

    def build(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        a = tf.keras.layers.Conv2D(4, 1, activation="sigmoid")(tf.keras.layers.MaxPooling2D(2)(x))
        a = tf.keras.layers.Lambda(lambda t: tf.compat.v1.image.resize_nearest_neighbor(t, (8, 8)))(a)
        return tf.keras.Model(x, tf.keras.layers.Add()([tf.keras.layers.Multiply()([x, a]), a]))
    report = generated_ops(int8_tflite(build, [(1, *hwc)]))
    assert report["upsample_mul_ops"] == 0 and "RESIZE_NEAREST_NEIGHBOR" in report["ops"]


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="arm-none-eabi-gcc and qemu-system-arm are needed (make setup installs them)")
def test_upsample_mul_is_bit_exact_on_the_emulated_m7(tmp_path):
    # the residual DC-AC tail, odd channels: the fast MUL and ADD on row pointers of any alignment
    tflite = int8_tflite(condenser((16, 20, 5), 4, scale="channel", residual=True), [(1, 16, 20, 5)],
                         low=-2.0, high=2.0)
    report = assert_bit_exact_on_board(tflite, tmp_path, board="cortex-m7", kernels="fast", samples=4)
    assert report["upsample_mul_ops"] == 1 and report["upsample_mul_residuals"] == 1


@pytest.mark.parametrize("residual", [False, True])
def test_arena_timeline_labels_the_layers_a_condenser_tail_runs(residual):
    # report.json's upsample_mul_groups name the fused layers; the timeline labels the op with them
    from tinyattend.report.plots import arena_timeline, timeline_labels
    report = generated_ops(int8_tflite(condenser((8, 8, 4), 2, residual=residual), [(1, 8, 8, 4)]))
    (group,) = report["upsample_mul_groups"]
    assert (group["residual"] is not None) == residual and group["resize"] < group["mul"]
    labels = timeline_labels(report["ops"], report["fused_groups"], report["upsample_mul_groups"])
    assert labels[group["op"]] == ("UPSAMPLE_MUL[resize+mul+add]" if residual else "UPSAMPLE_MUL[resize+mul]")
    assert [label for i, label in enumerate(labels) if i != group["op"]] == \
        [op for i, op in enumerate(report["ops"]) if i != group["op"]]
    png = arena_timeline(report["buffers"], report["memory_timeline"], report["ops"], report["arena_bytes"],
                         report["fused_groups"], report["upsample_mul_groups"])
    assert png.startswith(b"\x89PNG")
