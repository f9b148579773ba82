"""Output over input: the lead of ops/_overlap.py against a byte-by-byte simulation of the
kernels' access order, and end-to-end models whose planner used the overlap, bit-exact with TFLM."""
import itertools
import shutil

import numpy as np
import pytest

from op_harness import assert_bit_exact, int8_tflite
from tinyattend.codegen.ops._overlap import raster_lead
from tinyattend.codegen.ops.padding import output_size, padding_before


def geometry(n, h, w, c_in, c_out, fh, fw, sh, sw, dh, dw, padding):
    out_h = output_size(padding, h, fh, sh, dh)
    out_w = output_size(padding, w, fw, sw, dw)
    pad = (padding_before(padding, h, fh, sh, dh, out_h), padding_before(padding, w, fw, sw, dw, out_w))
    return dict(n=n, h=h, w=w, c_in=c_in, c_out=c_out, out_h=out_h, out_w=out_w, fh=fh, fw=fw,
                sh=sh, sw=sw, dh=dh, dw=dw, pad=pad)


def lead_of(g):
    return raster_lead((g["n"], g["h"], g["w"], g["c_in"]), (g["n"], g["out_h"], g["out_w"], g["c_out"]),
                       (g["fh"], g["fw"]), (g["sh"], g["sw"]), (g["dh"], g["dw"]), g["pad"])


def field(g, b, oy, ox):
    """Input byte offsets (from the input's base) pixel (b, oy, ox) reads, one array per tap
    in the kernels' (ky, kx) order, each covering the channels."""
    taps = []
    for ky in range(g["fh"]):
        y = oy * g["sh"] - g["pad"][0] + ky * g["dh"]
        if not 0 <= y < g["h"]:
            continue
        for kx in range(g["fw"]):
            x = ox * g["sw"] - g["pad"][1] + kx * g["dw"]
            if 0 <= x < g["w"]:
                taps.append(((b * g["h"] + y) * g["w"] + x) * g["c_in"] + np.arange(g["c_in"]))
    return np.concatenate(taps) if taps else np.zeros(0, np.int64)


def accesses(g, order):
    """The kernel's memory accesses in program order: ("r", input byte offsets) and
    ("w", output byte offsets), offsets relative to the input's and output's bases.

    portable: ta_conv2d_s8 -- per pixel, per output channel: read the field, write the byte.
    depthwise: ta_depthwise_conv2d_s8 -- per pixel, per channel: read that channel, write.
    fast: ta_conv2d_s8_fast -- per batch, pixel triples (i, i+1, i+2; a short last one repeats
    its last pixel): read the three fields (gather), then write the three pixels' channels."""
    c_out, pixels = g["c_out"], g["out_h"] * g["out_w"]
    if order == "planar":
        yield from planar_accesses(g)
        return
    for b in range(g["n"]):
        if order == "fast":
            for i in range(0, pixels, 3):
                tile = sorted({i, min(i + 1, pixels - 1), min(i + 2, pixels - 1)})
                for p in tile:
                    yield "r", field(g, b, *divmod(p, g["out_w"]))
                for p in tile:
                    yield "w", (b * pixels + p) * c_out + np.arange(c_out)
            continue
        for p in range(pixels):
            reads = field(g, b, *divmod(p, g["out_w"]))
            for oc in range(c_out):
                if order == "portable":
                    yield "r", reads
                else:   # depthwise: channel oc // multiplier of each tap
                    yield "r", reads[(reads % g["c_in"]) == oc // (c_out // g["c_in"])]
                yield "w", np.array([(b * pixels + p) * c_out + oc])


def planar_accesses(g):
    """ta_depthwise_conv2d_s8_fast: per batch, per input channel c, the whole channel is
    widened into the plane (every pixel of the image, whether a field needs it or not), then
    output channels c*multiplier ... are written for every pixel, reading the plane only."""
    mult, pixels = g["c_out"] // g["c_in"], g["out_h"] * g["out_w"]
    image = g["h"] * g["w"]
    for b in range(g["n"]):
        for c in range(g["c_in"]):
            yield "r", (b * image + np.arange(image)) * g["c_in"] + c
            for m in range(mult):
                yield "w", (b * pixels + np.arange(pixels)) * g["c_out"] + c * mult + m


def clobbered_read(g, lead, order):
    """True if, with the output `lead` bytes below the input, the kernel reads a byte it has overwritten."""
    clobbered = np.zeros(g["n"] * g["h"] * g["w"] * g["c_in"], bool)
    for kind, offsets in accesses(g, order):
        if kind == "r":
            if clobbered[offsets].any():
                return True
        else:
            at = offsets - lead                 # output byte -> input byte offset
            at = at[(at >= 0) & (at < clobbered.size)]
            clobbered[at] = True
    return False


def pixel_rule_holds(g, lead):
    """The rule the lead is derived from: no byte of output pixel p meets a byte that any pixel >= p reads."""
    pixels = [(b, *divmod(p, g["out_w"])) for b in range(g["n"]) for p in range(g["out_h"] * g["out_w"])]
    needed_later = np.zeros(g["n"] * g["h"] * g["w"] * g["c_in"], bool)
    for index in reversed(range(len(pixels))):
        needed_later[field(g, *pixels[index])] = True
        at = index * g["c_out"] + np.arange(g["c_out"]) - lead
        at = at[(at >= 0) & (at < needed_later.size)]
        if needed_later[at].any():
            return False
    return True


GEOMETRIES = [
    # n, h, w, c_in, c_out, fh, fw, sh, sw, dh, dw, padding
    (1, 8, 8, 4, 4, 3, 3, 1, 1, 1, 1, "SAME"),      # a residual block's 3x3 conv
    (1, 8, 8, 4, 8, 3, 3, 2, 2, 1, 1, "SAME"),      # stride 2, more channels out
    (1, 9, 7, 3, 2, 3, 3, 2, 2, 1, 1, "SAME"),      # odd sizes, fewer channels out
    (1, 8, 8, 8, 4, 1, 1, 2, 2, 1, 1, "VALID"),     # strided 1x1 shortcut
    (1, 6, 6, 4, 4, 1, 1, 1, 1, 1, 1, "VALID"),     # pointwise
    (2, 6, 5, 2, 3, 3, 3, 1, 1, 1, 1, "SAME"),      # batch 2
    (2, 7, 6, 3, 3, 3, 2, 2, 1, 1, 1, "VALID"),     # batch 2, stride 2, last rows unread
    (1, 9, 9, 2, 2, 3, 3, 1, 1, 2, 2, "SAME"),      # dilation 2
    (1, 10, 9, 2, 3, 3, 3, 2, 2, 2, 2, "SAME"),     # dilation 2, stride 2
    (1, 7, 7, 2, 5, 5, 5, 1, 1, 1, 1, "SAME"),      # 5x5, expanding
    (1, 6, 9, 3, 1, 2, 4, 2, 3, 1, 1, "SAME"),      # even filter, one output channel
    (1, 5, 5, 4, 16, 3, 3, 1, 1, 1, 1, "SAME"),     # output 4x the input's size
    (1, 12, 4, 1, 8, 10, 4, 2, 2, 1, 1, "SAME"),    # KWS's first layer, shrunk
]


@pytest.mark.parametrize("geo", GEOMETRIES, ids=lambda g: "x".join(map(str, g)))
def test_lead_is_safe_and_tight(geo):
    g = geometry(*geo)
    lead = lead_of(g)
    assert not clobbered_read(g, lead, "portable")
    assert not clobbered_read(g, lead, "fast")
    assert pixel_rule_holds(g, lead)
    assert not pixel_rule_holds(g, lead - 1), "the pixel rule allows a smaller lead: the formula is not tight"
    if g["c_out"] >= 2:
        # Only the last byte of the pixel that bounds the lead is written after its last read.
        assert clobbered_read(g, lead - 2, "portable")


def test_lead_random_geometries():
    rng = np.random.default_rng(7)
    for _ in range(60):
        fh, fw = rng.integers(1, 5, 2)
        sh, sw = rng.integers(1, 4, 2)
        dh, dw = rng.integers(1, 3, 2)
        n = int(rng.integers(1, 3))
        h = int(rng.integers((fh - 1) * dh + 1, 10))
        w = int(rng.integers((fw - 1) * dw + 1, 10))
        g = geometry(n, h, w, int(rng.integers(1, 5)), int(rng.integers(1, 6)), fh, fw, sh, sw, dh, dw,
                     str(rng.choice(["SAME", "VALID"])))
        lead = lead_of(g)
        assert not clobbered_read(g, lead, "portable"), g
        assert not clobbered_read(g, lead, "fast"), g
        assert pixel_rule_holds(g, lead) and not pixel_rule_holds(g, lead - 1), g


def test_depthwise_order_is_safe_too():
    for n, h, w, c, mult, k, s, pad in itertools.product([1, 2], [5, 8], [4, 7], [2, 4], [1, 2], [3], [1, 2],
                                                         ["SAME", "VALID"]):
        g = geometry(n, h, w, c, c * mult, k, k, s, s, 1, 1, pad)
        assert not clobbered_read(g, lead_of(g), "depthwise"), g


def test_planar_depthwise_may_run_in_place_with_one_channel_per_channel():
    # the fast depthwise kernel's in_place: the output in the input's own bytes
    for n, h, w, c, k, s, pad in itertools.product([1, 2], [5, 8], [4, 7], [1, 3], [3, 5], [1, 2], ["SAME", "VALID"]):
        if (k - 1) >= min(h, w) and pad == "VALID":
            continue
        g = geometry(n, h, w, c, c, k, k, s, s, 1, 1, pad)
        assert not clobbered_read(g, 0, "planar"), g
    # ... but not with a depth multiplier, nor in raster order
    g = geometry(1, 6, 6, 2, 4, 3, 3, 1, 1, 1, 1, "SAME")
    assert clobbered_read(g, 0, "planar")
    g = geometry(1, 6, 6, 2, 2, 3, 3, 1, 1, 1, 1, "SAME")
    assert clobbered_read(g, 0, "depthwise")


def test_resnet_block_lead_is_about_one_row():
    # 3x3 stride 1 'SAME' on 32x32x16: the field of pixel (y, x) starts at (y-1, x-1).
    assert raster_lead((1, 32, 32, 16), (1, 32, 32, 16), (3, 3), (1, 1), (1, 1), (1, 1)) == 34 * 16
    # pointwise, same channels: one pixel
    assert raster_lead((1, 25, 5, 64), (1, 25, 5, 64), (1, 1), (1, 1), (1, 1), (0, 0)) == 64


# --- end to end: small residual models, the planner overlapped them, outputs stay bit-exact ---

def residual_block(tf, shape, stride, filters):
    inputs = tf.keras.Input(shape=shape[1:], batch_size=shape[0])
    x = tf.keras.layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu")(inputs)
    x = tf.keras.layers.Conv2D(filters, 3, padding="same")(x)
    shortcut = inputs if stride == 1 and filters == shape[-1] else \
        tf.keras.layers.Conv2D(filters, 1, strides=stride, padding="valid")(inputs)
    y = tf.keras.layers.ReLU()(tf.keras.layers.Add()([x, shortcut]))
    y = tf.keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(y)
    return tf.keras.Model(inputs, y)


def overlapped_pairs(report) -> list[tuple[dict, dict]]:
    """(output, input) buffer pairs alive together whose bytes overlap in the plan."""
    pairs = []
    for a, b in itertools.combinations(report["buffers"], 2):
        together = a["first"] <= b["last"] and b["first"] <= a["last"]
        if together and a["offset"] < b["offset"] + b["size"] and b["offset"] < a["offset"] + a["size"]:
            pairs.append((a, b) if a["first"] > b["first"] else (b, a))
    return pairs


@pytest.mark.parametrize("kernels", ["portable", "fast"])
@pytest.mark.parametrize("stride,filters", [(1, 8), (2, 16)], ids=["identity", "stride2"])
def test_residual_block_overlaps_and_stays_bit_exact(tmp_path, kernels, stride, filters):
    shape = (1, 16, 16, 8)
    tflite = int8_tflite(lambda tf: residual_block(tf, shape, stride, filters), [shape])
    report = assert_bit_exact(tflite, tmp_path, samples=30, kernels=kernels, expect_ops=["CONV_2D", "ADD"])
    pairs = overlapped_pairs(report)
    assert pairs, f"no output was placed over its input: {report['buffers']}"
    for out, source in pairs:                      # each overlap is an output over an input dying there
        assert out["first"] == source["last"] and out["offset"] < source["offset"]
    # ... and the arena is smaller than any plan without overlaps could be
    positions = {b["first"] for b in report["buffers"]} | {b["last"] for b in report["buffers"]}
    apart = max(sum(b["size"] for b in report["buffers"] if b["first"] <= p <= b["last"]) for p in positions)
    assert report["arena_bytes"] < apart


def separable_chain(tf, shape):
    inputs = tf.keras.Input(shape=shape[1:], batch_size=shape[0])
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    for stride in (1, 2):
        x = tf.keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu")(x)
        x = tf.keras.layers.Conv2D(16, 1, activation="relu")(x)
    return tf.keras.Model(inputs, x)


@pytest.mark.parametrize("kernels", ["portable", "fast"])
def test_separable_chain_overlaps_and_stays_bit_exact(tmp_path, kernels):
    shape = (1, 20, 12, 3)
    tflite = int8_tflite(lambda tf: separable_chain(tf, shape), [shape])
    report = assert_bit_exact(tflite, tmp_path, samples=30, kernels=kernels,
                              expect_ops=["CONV_2D", "DEPTHWISE_CONV_2D"])
    if kernels == "portable":      # raster order: every op may lead its input
        assert len(overlapped_pairs(report)) >= 3
    else:                          # the channel-planar depthwise runs in place, the convs lead
        assert sum(len(b["tensors"]) == 2 for b in report["buffers"]) == 2, report["buffers"]
        assert overlapped_pairs(report)


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="arm-none-eabi-gcc and qemu-system-arm are needed (make setup installs them)")
def test_resnet8_on_the_emulated_m7_is_bit_exact_in_the_overlapped_arena(tmp_path):
    from conftest import mlperf_model
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project
    from tinyattend.run.bench import bench
    board = load_board("cortex-m7")
    report = write_project(tmp_path, mlperf_model("pretrainedResnet_quant").read_bytes(), board, kernels="auto",
                           optimize="balanced", model_name="pretrainedResnet_quant", measure_tflm_arena=False)
    assert overlapped_pairs(report)
    result = bench(tmp_path, board, timeout=300)
    assert result["bit_exact"], result.get("bit_exact_error")
    # issue 7: peak RAM (arena + stack) at most 0.7x TFLM's arena for this model (54,996 B)
    assert result["peak_ram_bytes"] <= 0.7 * 54_996, result["peak_ram_bytes"]
