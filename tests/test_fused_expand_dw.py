"""The fused 1x1 expansion + depthwise op (codegen/fusion/, templates/kernels/fused/, issue 17):
the band schedule the kernel runs, bit-exactness against the unfused TFLM graph on the host
(ASan + UBSan) and on the emulated M7, the planner's choice, and a byte-level check that no
buffer of the arena plan is overwritten while it is still to be read."""
import functools
import shutil

import numpy as np
import pytest

from op_harness import assert_bit_exact, assert_bit_exact_on_board, int8_tflite
from tinyattend.codegen.fusion.expand_depthwise import Geometry, overlap_lead, schedule
from tinyattend.codegen.fusion.policy import FORCE_VARIABLE


# --- the schedule: each band sees exactly the rows its window needs, each row computed once ---

def simulate(g: Geometry, band_rows: int):
    """Run the kernel's loop (ta_fused_expand_dw_s8.c) on row labels: the buffer's rows after each
    band, the rows each expansion call computed, the output rows each depthwise call wrote."""
    bands = schedule(g, band_rows)
    buffer, first, next_row, computed, written = [], 0, 0, [], []
    for kind, band in bands:
        lo, hi = band.lo, band.hi
        if lo < next_row:
            buffer = buffer[lo - first:next_row - first]      # memmove to the top
        else:
            buffer, next_row = [], lo
        first = lo
        if hi > next_row:
            new = list(range(next_row, hi))
            assert band.new_from == next_row and len(new) == band.shape()[0]
            computed += new
            buffer += new
            next_row = hi
        # the depthwise reads its window rows from the buffer as rows [0, hi - lo) of its input
        for oy in range(band.out_first, band.out_first + band.out_rows):
            for ky in range(g.filter_h):
                row = oy * g.stride - g.pad_top + ky
                if 0 <= row < g.in_h:
                    assert buffer[row - lo] == row, (band, oy, ky)
                    assert row - lo == (oy - band.out_first) * g.stride - band.pad_top + ky
        written += list(range(band.out_first, band.out_first + band.out_rows))
    return bands, computed, written


@pytest.mark.parametrize("seed", range(5))
def test_schedule_reads_the_right_rows_and_computes_each_once(seed):
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(200):
        fh = int(rng.integers(1, 6))
        stride = int(rng.integers(1, fh + 1))
        in_h = int(rng.integers(1, 40))
        pad_top = int(rng.integers(0, fh))
        pad_bottom = int(rng.integers(0, fh))
        out_h = (in_h + pad_top + pad_bottom - fh) // stride + 1
        if out_h < 1:
            continue
        g = Geometry(in_h, out_h, stride, pad_top, fh)
        for band_rows in range(1, out_h + 1):
            if schedule(g, band_rows) is None:
                continue
            bands, computed, written = simulate(g, band_rows)
            needed = sorted({oy * stride - pad_top + k for oy in range(out_h) for k in range(fh)} & set(range(in_h)))
            assert computed == needed             # no expanded row computed twice or for nothing
            assert written == list(range(out_h))
            checked += 1
    assert checked > 200


def test_schedule_refuses_middle_bands_of_different_shapes():
    g = Geometry(in_h=20, out_h=10, stride=2, pad_top=0, filter_h=3)
    assert schedule(g, 2) is not None and schedule(g, 4) is not None
    # a 5x5 window padded by 2: with one row a band, the second band still has a padding row on
    # top and the third none -- two middle shapes, which three parameter sets cannot run
    tall = Geometry(in_h=6, out_h=6, stride=1, pad_top=2, filter_h=5)
    assert schedule(tall, 1) is None
    bands = schedule(tall, 2)
    assert [band.pad_top for _, band in bands] == [2, 0, 0]


def clobbered_rows(g: Geometry, band_rows: int, in_row: int, out_row: int, expands: bool, residual: bool,
                   lead: int) -> list[tuple[int, int]]:
    """Run the kernel's loop on byte addresses, with its output `lead` bytes below its input:
    (band, input row) for every input row read after an output byte was written over it. A band
    reads its new expanded rows' input (or, with no expansion, its depthwise window's rows) and
    its residual rows, then writes its output rows."""
    written, bad = -10**9, []          # the end of the output bytes written so far
    for b, (_, band) in enumerate(schedule(g, band_rows)):
        reads = list(range(band.new_from if expands else band.lo, band.hi))
        if residual:
            reads += list(range(band.out_first, band.out_first + band.out_rows))
        bad += [(b, r) for r in reads if r * in_row < written]
        written = (band.out_first + band.out_rows) * out_row - lead
    return bad


@pytest.mark.parametrize("seed", range(3))
def test_overlap_lead_keeps_every_input_row_until_read(seed):
    """The lead the fused op with a projection declares (its output over its input, a few rows
    below): no input row is overwritten before a band reads it, and one byte less would be
    wrong wherever the lead is positive."""
    rng = np.random.default_rng(100 + seed)
    tight = 0
    for _ in range(150):
        fh = int(rng.integers(1, 6))
        stride = int(rng.integers(1, fh + 1))
        in_h = int(rng.integers(1, 30))
        pad_top, pad_bottom = int(rng.integers(0, fh)), int(rng.integers(0, fh))
        out_h = (in_h + pad_top + pad_bottom - fh) // stride + 1
        if out_h < 1:
            continue
        g = Geometry(in_h, out_h, stride, pad_top, fh)
        in_row = int(rng.integers(1, 64))
        residual = stride == 1 and out_h == in_h and bool(rng.integers(0, 2))
        out_row = in_row if residual else int(rng.integers(1, 64))
        expands = bool(rng.integers(0, 2))
        for band_rows in range(1, out_h + 1):
            if schedule(g, band_rows) is None:
                continue
            lead = overlap_lead(g, band_rows, in_row, out_row, expands)
            assert clobbered_rows(g, band_rows, in_row, out_row, expands, residual, lead) == []
            if lead > 0:
                assert clobbered_rows(g, band_rows, in_row, out_row, expands, residual, lead - 1)
                tight += 1
    assert tight > 50


# --- bit-exact against TFLM: small inverted-residual blocks, every band height the kernel takes ---

def block(hwc, ratio, stride, kernel=3, padding="same", project=True, residual=True, act="relu6"):
    def build(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        e = tf.keras.layers.Conv2D(hwc[2] * ratio, 1, activation=act)(x)
        d = tf.keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, activation=act)(e)
        if not project:
            return tf.keras.Model(x, d)
        y = tf.keras.layers.Conv2D(hwc[2], 1)(d)
        if residual and stride == 1:
            y = tf.keras.layers.Add()([x, y])
        return tf.keras.Model(x, y)
    return build


def chain(hwc, blocks):
    """Blocks one after the other, each (ratio, stride, block options): one conversion, one build
    per kernel set for several fused groups."""
    def build(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        y, shape = x, hwc
        for ratio, stride, options in blocks:
            y = block(shape, ratio, stride, **options)(tf)(y)
            shape = tuple(y.shape[1:])
        return tf.keras.Model(x, y)
    return build


CHAINS = [
    # input hwc, band rows, blocks: (expansion ratio, stride, block options)
    ((17, 13, 5), 2, [(4, 1, {}),                                  # residual + projection, odd sizes
                      (6, 2, {"residual": False}),                  # ratio 6, stride 2
                      (1, 1, {"project": False})]),                 # ratio 1, no projection
    ((16, 15, 4), 3, [(3, 2, {"kernel": 5}),                       # 5x5 window (generic fast path)
                      (2, 2, {"padding": "valid", "act": None})]),  # valid padding, no activation
    ((12, 6, 8), 1, [(5, 1, {"act": "relu"}),                      # one row a band, tall narrow map
                     (2, 2, {"project": False})]),
]   # one band for the whole layer: the M7 test below


@functools.lru_cache(maxsize=None)
def converted(chain_index: int) -> bytes:
    """CHAINS[chain_index] as int8 TFLite (-1: depthwise_beside_its_input), converted once per test
    worker: the host and the M7 tests share the models (a conversion takes several seconds)."""
    if chain_index == -1:
        return int8_tflite(depthwise_beside_its_input(BANDED_HWC), [(1, *BANDED_HWC)], low=-2.0, high=2.0)
    hwc, _, blocks = CHAINS[chain_index]
    return int8_tflite(chain(hwc, blocks), [(1, *hwc)], low=-2.0, high=2.0)


@pytest.mark.slow
@pytest.mark.parametrize("hwc,band_rows,blocks", CHAINS)
def test_fused_blocks_are_bit_exact_on_the_host(tmp_path, monkeypatch, hwc, band_rows, blocks):
    tflite = converted(CHAINS.index((hwc, band_rows, blocks)))
    monkeypatch.setenv(FORCE_VARIABLE, f"all:{band_rows}")
    for kernels in ("portable", "fast"):
        report = assert_bit_exact(tflite, tmp_path / kernels, samples=12, kernels=kernels,
                                  expect_ops=["CONV_2D", "DEPTHWISE_CONV_2D"])
        groups = report["fused_groups"]
        assert len(groups) == len(blocks) and "DEPTHWISE_CONV_2D" not in report["ops"]
        assert all(report["ops"][g["op"]] == "FUSED_EXPAND_DEPTHWISE" for g in groups)
        assert min(g["band_rows"] for g in groups) <= band_rows
        # the projections and residual ADDs are taken in (the knob's "all")
        projected = [options.get("project", True) for _, _, options in blocks]
        residuals = [p and options.get("residual", True) and stride == 1 for (_, stride, options), p
                     in zip(blocks, projected)]
        assert [g["project"] is not None for g in groups] == projected
        assert [g["residual"] is not None for g in groups] == residuals
        assert "ADD" not in report["ops"] and report["ops"].count("CONV_2D") == 0
        model_c = next((tmp_path / kernels).rglob("model.c")).read_text()
        assert (".expand_fast = 1," in model_c) == (kernels == "fast")
        if kernels == "portable":
            assert ".depthwise_fast = 1," not in model_c


@pytest.mark.slow
def test_auto_fuses_where_it_lowers_the_arena_and_not_elsewhere(tmp_path, monkeypatch):
    # stride 2: the expanded 24x24x24 tensor is the peak; fused, only a band of it lives
    hwc = (24, 24, 4)
    tflite = int8_tflite(block(hwc, 6, 2, residual=False), [(1, *hwc)], low=-2.0, high=2.0)
    fused = assert_bit_exact(tflite, tmp_path / "auto", samples=8, kernels="fast")
    monkeypatch.setenv(FORCE_VARIABLE, "off")
    unfused = assert_bit_exact(tflite, tmp_path / "off", samples=2, kernels="fast")
    assert len(fused["fused_groups"]) == 1 and not unfused["fused_groups"]
    assert fused["arena_bytes"] < unfused["arena_bytes"] - 24 * 24 * 24 // 2
    # the cmsis-nn kernel set runs TFLM's kernels (only PADs folded): never fused
    monkeypatch.delenv(FORCE_VARIABLE)
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project
    report = write_project(tmp_path / "cmsis", tflite, load_board("host"), kernels="cmsis-nn", optimize="balanced",
                           model_name="test_op", measure_tflm_arena=False)
    assert not report["fused_groups"]


def depthwise_beside_its_input(hwc):
    """A depthwise layer whose input is read again after it (a residual): it cannot run in place,
    so at the peak its input, its output and the fast kernel's planes are all live."""
    def build(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        d = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        y = tf.keras.layers.Conv2D(hwc[2], 1)(d)
        return tf.keras.Model(x, tf.keras.layers.Add()([x, y]))
    return build


BANDED_HWC = (29, 24, 8)


@pytest.mark.slow
def test_depthwise_at_the_peak_runs_in_bands(tmp_path, monkeypatch):
    tflite = converted(-1)
    banded = assert_bit_exact(tflite, tmp_path / "auto", samples=12, kernels="fast")
    (group,) = banded["fused_groups"]
    assert group["type"] == "DEPTHWISE_CONV_2D_BANDED" and group["expand"] is None
    assert group["band_rows"] < 29
    monkeypatch.setenv(FORCE_VARIABLE, "off")
    whole = assert_bit_exact(tflite, tmp_path / "off", samples=2, kernels="fast")
    assert not whole["fused_groups"] and banded["arena_bytes"] < whole["arena_bytes"]
    assert banded["scratch_bytes"] < whole["scratch_bytes"]


# --- the arena, byte by byte: no buffer is overwritten before its last read ---

def clobbered(generated, graph) -> list[str]:
    """Run the plan over a byte map of the arena: at each op, stamp the bytes of every buffer
    first written there (outputs, scratch) with its name, then check that every buffer the op
    reads still holds its own stamp -- except bytes of an input its output may lead (a raster
    kernel's output over the input it finishes reading, planned at least the lead below it)."""
    plan = generated.plan
    owner = np.full(plan.size, "", dtype=object)
    problems = []
    for r in plan.ranges:
        if r.first < 0:
            owner[plan.offsets[r.buffer]:plan.offsets[r.buffer] + r.size] = r.buffer
    for position, op in enumerate(graph.ops):
        writers = [r for r in plan.ranges if r.first == position]
        for r in writers:
            owner[plan.offsets[r.buffer]:plan.offsets[r.buffer] + r.size] = r.buffer
        read = {generated.buffer_of[t] for t in op.inputs if t is not None and t in generated.buffer_of}
        for r in plan.ranges:
            if r.buffer not in read:
                continue
            stamps = set(owner[plan.offsets[r.buffer]:plan.offsets[r.buffer] + r.size]) - {r.buffer}
            led = {w.buffer for w in writers if w.leads and w.leads[0] == r.buffer}
            if stamps - led:
                problems.append(f"op {position} ({op.type}) reads {r.buffer}, overwritten by {sorted(stamps - led)}")
    return problems


def test_no_live_buffer_is_overwritten_in_a_fused_plan(monkeypatch):
    from dataclasses import replace
    from tinyattend.boards import load_board
    from tinyattend.codegen.generate import generate
    from tinyattend.codegen.lowering import Target
    from tinyattend.ir.tflite_reader import read_tflite
    hwc = (20, 14, 4)

    def two_blocks(tf):
        x = tf.keras.Input(hwc, batch_size=1)
        y = block(hwc, 4, 1)(tf)(x)
        y = block(hwc, 6, 2, residual=False)(tf)(y)
        return tf.keras.Model(x, y)
    graph = read_tflite(int8_tflite(two_blocks, [(1, *hwc)]))
    monkeypatch.setenv(FORCE_VARIABLE, "all:3")
    for kernels in ("portable", "fast"):
        target = Target(board=load_board("host"), kernels=kernels)
        generated = generate(graph, target, "two_blocks")
        fused_graph = _fused_graph(generated, graph, target)
        assert sum(op.type == "FUSED_EXPAND_DEPTHWISE" for op in fused_graph.ops) == 2
        assert [op.options.get("residual") is not None for op in fused_graph.ops if "depthwise" in op.options] \
            == [True, False]     # the first block's projection and residual ADD run in its band loop
        assert clobbered(generated, fused_graph) == []
        # the check sees a scratch buffer moved onto the fused op's input
        fused = next(p for p, op in enumerate(fused_graph.ops) if op.type == "FUSED_EXPAND_DEPTHWISE")
        offsets = dict(generated.plan.offsets)
        offsets[f"scratch{fused}"] = offsets[generated.buffer_of[fused_graph.ops[fused].inputs[0]]]
        broken = replace(generated, plan=replace(generated.plan, offsets=offsets))
        assert any(f"op {fused} " in p for p in clobbered(broken, fused_graph))


def _fused_graph(generated, graph, target):
    """The graph generate() lowered (the fused one)."""
    assert [op.type for op in generated.graph.ops] == generated.report["ops"]
    return generated.graph


# --- the real instructions: the fast sub-kernels on the emulated Cortex-M7 ---

@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="arm-none-eabi-gcc and qemu-system-arm are needed (make setup installs them)")
@pytest.mark.parametrize("chain_index,band_rows", [(1, 3), (0, 100), (-1, None)],
                         ids=["5x5-stride2-bands-of-3", "one-band", "banded-depthwise"])
def test_fused_block_is_bit_exact_on_the_emulated_m7(tmp_path, monkeypatch, chain_index, band_rows):
    if band_rows is not None:
        monkeypatch.setenv(FORCE_VARIABLE, f"all:{band_rows}")
    report = assert_bit_exact_on_board(converted(chain_index), tmp_path, board="cortex-m7", kernels="fast", samples=4)
    groups = report["fused_groups"]
    assert groups and all(g["type"] == ("DEPTHWISE_CONV_2D_BANDED" if band_rows is None else "FUSED_EXPAND_DEPTHWISE")
                          for g in groups)
    if band_rows == 100:
        assert all(g["band_rows"] == report["layers"][g["op"]]["output"][1] for g in groups)    # one band
    if chain_index != 1:     # the residual blocks: projection and ADD in the band loop, output over input
        assert any(g["residual"] is not None for g in groups)


def test_bench_table_shows_peak_ram_before_and_after_fusion():
    from tinyattend.run.bench_all import markdown
    row = dict(model="m", board="cortex-m7", kernels="auto", bit_exact=True, instructions=10, peak_ram_bytes=1664,
               arena_bytes=1000, arena_unfused_bytes=3000, stack_bytes=664, runtime_code_bytes=1, const_bytes=1,
               ratios={"baseline_arena": 4000})
    assert "| m | cortex-m7 | auto | 3,000 | 1,000 | 0.33 | 3,664 | 1,664 | 0.916 -> 0.416 |" in markdown([row])


def test_vww_depthwise_at_the_peak_takes_one_plane_not_bands():
    """VWW's 48x48x8 depthwise layer runs in place: with one plane of scratch instead of four its
    peak is below what bands give (they need the output beside the input) at a fraction of their
    instructions (M7: 342,520 against 424,840 in one-row bands), so the policy narrows it."""
    from conftest import mlperf_model
    from tinyattend.boards import load_board
    from tinyattend.codegen.generate import generate
    from tinyattend.codegen.lowering import Target
    from tinyattend.codegen.ops.depthwise_conv_2d import NARROW_PLANES
    from tinyattend.ir.tflite_reader import read_tflite
    graph = read_tflite(mlperf_model("vww_96_int8").read_bytes(), "vww")
    generated = generate(graph, Target(load_board("cortex-m7"), kernels="auto"), "vww")
    op = generated.graph.ops[1]
    assert op.type == "DEPTHWISE_CONV_2D" and op.options.get(NARROW_PLANES)
    params = dict(generated.lowered[1].params)
    assert params["fill_group"] == 1 and generated.lowered[1].scratch_bytes == params["plane_h"] * params["plane_w"] * 2
    assert generated.plan.size <= 38160      # no more than with the bands it replaces
