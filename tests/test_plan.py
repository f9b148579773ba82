"""The memory planner: placements never collide, and the arena is never larger than TFLM's."""
import itertools

import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyattend.boards import load_board
from tinyattend.codegen.generate import generate
from tinyattend.codegen.lowering import Target
from tinyattend.ir.tflite_reader import read_tflite
from tinyattend.plan.arena import lower_bound, plan_arena
from tinyattend.plan.liveness import LiveRange


def assert_no_collision(plan):
    for a, b in itertools.combinations(plan.ranges, 2):
        alive_together = a.first <= b.last and b.first <= a.last
        if alive_together:
            oa, ob = plan.offsets[a.buffer], plan.offsets[b.buffer]
            assert oa + a.size <= ob or ob + b.size <= oa, f"{a.buffer} and {b.buffer} overlap while both are alive"


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


@pytest.mark.parametrize("name", MLPERF_MODELS)
@pytest.mark.parametrize("kernels", ["portable", "auto"])
def test_mlperf_arena_not_larger_than_tflm(name, kernels):
    from tinyattend.verify import tflm_arena
    data = mlperf_model(name).read_bytes()
    graph = read_tflite(data, name)
    generated = generate(graph, Target(load_board("cortex-m7"), kernels=kernels), name)
    assert_no_collision(generated.plan)
    tflm = tflm_arena(data)
    # TFLM's smallest arena also holds its persistent data; ours holds activations and every scratch buffer.
    assert generated.plan.size <= tflm["tflm_arena_bytes"], (generated.plan.size, tflm)
    if kernels == "portable":   # no scratch: compare activation memory with TFLM's activation part alone
        assert generated.plan.size <= tflm["tflm_arena_head"], (generated.plan.size, tflm)
