"""The memory planner: placements never collide (except an output over the input it reads
for the last time, at least its lead below it), and the arena is never larger than TFLM's."""
import itertools

import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyattend.boards import load_board
from tinyattend.codegen.generate import generate
from tinyattend.codegen.lowering import Target
from tinyattend.ir.tflite_reader import read_tflite
from tinyattend.plan.arena import collisions, lower_bound, plan_arena
from tinyattend.plan.liveness import ALIGNMENT, LiveRange


def assert_no_collision(plan) -> int:
    """Every two buffers alive together are apart, or one is an output that may lead the other
    (its input, dying at the op that writes it) and starts at least the lead below it; pinned
    ranges sit where pinned. Returns how many overlaps the plan uses."""
    assert not collisions(plan.ranges, plan.offsets)
    overlaps = 0
    for a, b in itertools.combinations(plan.ranges, 2):
        alive_together = a.first <= b.last and b.first <= a.last
        if alive_together:
            oa, ob = plan.offsets[a.buffer], plan.offsets[b.buffer]
            if oa + a.size <= ob or ob + b.size <= oa:
                continue
            out, source = (a, b) if a.leads and a.leads[0] == b.buffer else (b, a)
            assert out.leads and out.leads[0] == source.buffer, f"{a.buffer} and {b.buffer} overlap while both are alive"
            assert out.first == source.last, f"{out.buffer} overlaps {source.buffer} beyond the op that writes it"
            assert plan.offsets[out.buffer] <= plan.offsets[source.buffer] - out.leads[1], \
                f"{out.buffer} starts less than its lead {out.leads[1]} below {source.buffer}"
            overlaps += 1
    for r in plan.ranges:
        assert plan.offsets[r.buffer] >= 0 and plan.offsets[r.buffer] % ALIGNMENT == 0, r.buffer
        assert plan.offsets[r.buffer] + r.size <= plan.size, r.buffer
    return overlaps


def test_first_fit_reuses_memory_of_dead_buffers():
    # a chain: each buffer dies when the next op has read it
    ranges = [LiveRange(f"t{i}", 64, i - 1, i, (i,)) for i in range(6)]
    plan = plan_arena(ranges)
    assert_no_collision(plan)
    assert plan.size == 128 == lower_bound(ranges)


def test_long_lived_buffer_and_scratch():
    ranges = [LiveRange("skip", 256, -1, 5, (0,)), LiveRange("a", 128, 0, 2, (1,)),
              LiveRange("b", 512, 2, 4, (2,)), LiveRange("scratch3", 64, 3, 3, ()),
              LiveRange("c", 128, 4, 5, (3,))]
    plan = plan_arena(ranges)
    assert_no_collision(plan)
    assert lower_bound(ranges) <= plan.size <= sum(r.size for r in ranges)


def test_output_sits_its_lead_below_a_dying_input():
    # a residual block: the block input x lives on for the ADD; conv1 writes a (x still live),
    # conv2 reads a for the last time and writes b over it, 544 bytes below (34 rows of 16)
    ranges = [LiveRange("x", 16384, -1, 3, (0,)), LiveRange("a", 16384, 1, 2, (1,)),
              LiveRange("b", 16384, 2, 3, (2,), leads=("a", 544)), LiveRange("scratch2", 576, 2, 2, ())]
    plan = plan_arena(ranges)
    assert assert_no_collision(plan) == 1
    assert plan.offsets["b"] == plan.offsets["a"] - 544
    assert plan.size == 16384 + 544 + 16384 + 576 == lower_bound(ranges)


def test_lead_is_rounded_up_to_the_alignment_and_no_overlap_stays_allowed():
    ranges = [LiveRange("x", 256, -1, 0, (0,)), LiveRange("y", 256, 0, 1, (1,), leads=("x", 20))]
    plan = plan_arena(ranges)
    assert assert_no_collision(plan) == 1
    assert plan.offsets["x"] - plan.offsets["y"] == 32
    assert plan.size == 32 + 256
    # a lead beyond the output's size: the output can at best touch the input
    ranges = [LiveRange("y", 256, 0, 1, (1,)), LiveRange("z", 512, 1, 2, (2,), leads=("y", 600))]
    plan = plan_arena(ranges)
    assert assert_no_collision(plan) == 0 and plan.size == 256 + 512 == lower_bound(ranges)


def test_smaller_in_place_output_frees_the_rest_of_the_buffer(tmp_path):
    # a stride-2 depthwise (fast kernel: in place) leaves a quarter of its input's buffer in use
    # (6 channels: the kernel fills one plane at a time, so its scratch stays small next to the tensors)
    from op_harness import int8_tflite

    def build(tf):
        inputs = tf.keras.Input(shape=(16, 16, 6), batch_size=1)
        x = tf.keras.layers.Conv2D(6, 1)(inputs)
        x = tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(x)
        return tf.keras.Model(inputs, tf.keras.layers.Conv2D(32, 1)(x))

    graph = read_tflite(int8_tflite(build, [(1, 16, 16, 6)]), "dw")
    generated = generate(graph, Target(load_board("cortex-m7"), kernels="fast"), "dw")
    by_name = {r.buffer: r for r in generated.plan.ranges}
    tails = [r for r in generated.plan.ranges if r.pinned]
    assert len(tails) == 1
    tail, head = tails[0], by_name[tails[0].pinned[0]]
    assert (head.size, tail.size, tail.pinned[1]) == (384, 1152, 384)
    assert tail.last == head.first + 1 and head.last == tail.last + 1   # freed once the depthwise ran
    assert_no_collision(generated.plan)
    # the last conv's output reuses the freed bytes while the depthwise output is still live
    out = next(r for r in generated.plan.ranges if r.first == head.last and r.tensors)
    offsets = generated.plan.offsets
    assert offsets[out.buffer] < offsets[tail.buffer] + tail.size and offsets[tail.buffer] < offsets[out.buffer] + out.size
    # without the freed tail the depthwise input's whole buffer and the last output would be live together
    assert lower_bound(list(generated.plan.ranges)) <= generated.plan.size < head.size + tail.size + out.size


def chain(n: int, lead: int) -> list[LiveRange]:
    return [LiveRange(f"t{i}", 1024, i - 1, i, (i,), leads=(f"t{i - 1}", lead) if i else None) for i in range(n)]


def test_chain_of_overlaps_drifts_down_until_ping_pong_is_smaller():
    # each output sits below its input, so a chain of overlaps drifts down by a lead per layer
    plan = plan_arena(chain(5, 100))
    assert assert_no_collision(plan) == 4 and plan.size == 1024 + 4 * 112
    # ... and once that costs more than two buffers, plain ping-pong wins
    plan = plan_arena(chain(12, 100))
    assert plan.size == 2048


def test_random_plans_respect_leads():
    import numpy as np
    rng = np.random.default_rng(3)
    for _ in range(100):
        ranges, live = [], []
        for position in range(12):
            dying = [r for r in live if r.last == position]
            size = int(rng.integers(1, 40)) * ALIGNMENT
            leads = None
            if dying and rng.random() < 0.7:
                source = dying[int(rng.integers(len(dying)))]
                leads = (source.buffer, int(rng.integers(-50, size + 50)))
            r = LiveRange(f"t{position}", size, position, position + int(rng.integers(1, 4)), (position,), leads)
            if size > ALIGNMENT and r.last > position + 1 and rng.random() < 0.3:
                # an in-place op at position + 1 leaves a smaller tensor: the rest is a pinned tail
                kept = ALIGNMENT * int(rng.integers(1, size // ALIGNMENT))
                r = LiveRange(r.buffer, kept, r.first, r.last, r.tensors, leads)
                ranges.append(LiveRange(f"t{position}_tail", size - kept, position, position + 1, (),
                                        (leads[0], leads[1] - kept) if leads else None, pinned=(r.buffer, kept)))
            ranges.append(r)
            live.append(r)
            if rng.random() < 0.3:
                ranges.append(LiveRange(f"scratch{position}", ALIGNMENT * int(rng.integers(1, 5)), position, position, ()))
        plan = plan_arena(ranges)
        assert_no_collision(plan)
        assert lower_bound(ranges) <= plan.size


@pytest.mark.parametrize("name", MLPERF_MODELS)
@pytest.mark.parametrize("kernels", ["portable", "auto"])
def test_mlperf_arena_not_larger_than_tflm(name, kernels):
    from tinyattend.verify import tflm_arena
    data = mlperf_model(name).read_bytes()
    graph = read_tflite(data, name)
    generated = generate(graph, Target(load_board("cortex-m7"), kernels=kernels), name)
    overlaps = assert_no_collision(generated.plan)
    if name == "pretrainedResnet_quant":
        # the peak is inside a residual block: conv2 writes over conv1's output, and that is
        # the least any plan can do (the block input stays live for the ADD)
        assert overlaps >= 1
        assert generated.plan.size == lower_bound(list(generated.plan.ranges))
    tflm = tflm_arena(data)
    # TFLM's smallest arena also holds its persistent data; ours holds activations and every scratch buffer.
    assert generated.plan.size <= tflm["tflm_arena_bytes"], (generated.plan.size, tflm)
    if kernels == "portable":   # no scratch: compare activation memory with TFLM's activation part alone
        assert generated.plan.size <= tflm["tflm_arena_head"], (generated.plan.size, tflm)
    if name == "pretrainedResnet_quant":     # issue 7: at most 0.7x TFLM's arena
        assert generated.plan.size <= 0.7 * tflm["tflm_arena_bytes"], (generated.plan.size, tflm)
