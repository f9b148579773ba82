"""Which expansion/depthwise pairs to fuse, and how tall their bands are: the decision that trades
peak RAM against instructions (issue 17's goal: the peak as low as fusion takes it, instructions
within a few percent of the unfused model's).

A fused pair costs instructions per band (the sub-kernels' per-call setup, the rows moved to the
buffer's top, the fast depthwise's padded planes filled again for the halo rows), so fewer, taller
bands are cheaper; shorter bands take less RAM. The search:
  1. plan the unfused model, and the model with every pair fused at MIN_BAND_ROWS;
  2. if that does not lower the arena by min_gain() (1 KiB or 2%), fuse nothing;
  3. else unfuse each pair whose expanded tensor fits beside the bytes live at its op within that
     arena (it is not what sets the peak), and give each pair kept the tallest band (doubling from
     MIN_BAND_ROWS) whose scratch keeps the bytes live at its op within that arena;
  4. keep that plan if its arena is no larger than step 1's fused one; else fuse also the pairs
     unfused at the ops where it holds more, and plan again (MAX_ROUNDS times), else step 1's;
  5. where an op's scratch then sets the arena (a depthwise layer beside its fast kernel's planes,
     a whole map tall, or a fused pair with a tall band), run it in shorter bands, one op at a time
     or, where the greedy placement needs two lower, two (band_at_peak); a depthwise layer whose
     fast kernel fills four planes takes one plane instead of bands where that does as well.
Between 4 and 5, every fused or depthwise op followed by a 1x1 projection (and a residual ADD of
its input) takes them in, if that lowers the arena (once the expanded tensor is gone, the
depthwise output and the block's input and output side by side hold the peak; fused, only a band
of the first exists and the other two share bytes). Measured, that costs few instructions
(attendnext-micro +1.05% against unfused, with every projection taken in), so none is given back.
Each step plans the whole graph again (generate.py keeps the lowerings of unchanged ops): about
1.5 s of CPU on attendnext-micro's 154 ops, 0.9 s on VWW's 31.
"""
from __future__ import annotations

import os
from dataclasses import replace
from types import MappingProxyType

from ..ops.depthwise_conv_2d import NARROW_PLANES
from .expand_depthwise import OP_TYPES, geometry, schedule
from .inverted_residual import (absorb_projections, band_depthwise, bandable_depthwise, candidates, fuse,
                                projections)

MIN_BAND_ROWS = 2
MIN_GAIN_BYTES = 1024
MIN_GAIN_SHARE = 0.02
PAIR_CANDIDATES = 3       # banded ops nearest the peak that band_at_peak shrinks two at a time
MAX_ROUNDS = 4            # plans tried after the estimate, adding pairs where it was wrong
ALIGN_SLACK = 64          # the planner's alignment of the buffers around a pair (bytes)
# A test and measurement knob, not an option: "off" fuses nothing, "all" or "all:ROWS" every pair
# (bands of ROWS output rows where the kernel can run them, else the shortest it can).
FORCE_VARIABLE = "TINYATTEND_FUSION"


def band_choices(dw, graph) -> list[int]:
    """Band heights to try for a pair, shortest first: 1, then 2 doubling up to the whole output,
    those the kernel can run (schedule() not None)."""
    g = geometry(dw, graph)
    rows, choices = 1, []
    while True:
        rows = min(rows, g.out_h)
        if schedule(g, rows) is not None:
            choices.append(rows)
        if rows >= g.out_h:
            return choices
        rows *= 2


def min_gain(arena: int) -> int:
    """The fewest bytes a fusion or banding must take off the arena to be worth its instructions
    and the layers' kernels run on other shapes: MIN_GAIN_BYTES, or MIN_GAIN_SHARE of the arena."""
    return max(MIN_GAIN_BYTES, int(arena * MIN_GAIN_SHARE))


def fusion_enabled(target) -> bool:
    """Fusion runs for our kernel sets (the cmsis-nn set runs TFLM's kernels, only PADs folded), unless the
    knob turns it off."""
    return target.kernels != "cmsis-nn" and os.environ.get(FORCE_VARIABLE, "") != "off"


def bands_enabled(target) -> bool:
    """Whether expansion/depthwise pairs may be fused and depthwise layers banded. Not for cmsis-nn, nor by
    default (without the knob's "all") for helium: the fused and banded ops call the DSP fast kernels,
    which take 1.4-2.7x the instructions of the MVE ones on the M55 (VWW: 5.25M fused against 3.75M
    unfused, 0.80x against 0.57x of TFLM + CMSIS-NN), and the unfused arena already meets the M55's RAM
    goal (VWW 0.59x of the baseline's)."""
    force = os.environ.get(FORCE_VARIABLE, "")
    if target.kernels == "helium":
        return force.startswith("all")
    return target.kernels != "cmsis-nn" and force != "off"


def choose_fusion(graph, target, build):
    """(graph, target, built) with the chosen pairs fused and the depthwise layers at the peak
    banded; build(graph, target) -> an object with .plan (ArenaPlan) and .lowered, the whole
    lowering and planning of a graph."""
    graph, target, built = _choose_pairs(graph, target, build)
    if not bands_enabled(target):
        return graph, target, built
    graph, target, built = _absorb_projections(graph, target, built, build)
    if os.environ.get(FORCE_VARIABLE, ""):
        return graph, target, built
    graph, built = band_at_peak(graph, target, built, build)
    return graph, target, built


def band_at_peak(graph, target, built, build):
    """Where an op with a large scratch -- a depthwise layer beside the fast kernel's padded planes
    (a whole map tall), or a fused pair whose band step 3 made tall -- is at the peak of live bytes
    or its scratch at the top of the arena, run it in shorter bands: the tallest that gives the
    smallest arena, while that shrinks it. Returns the graph and its build."""
    for _ in range(2 * MAX_ROUNDS):
        plan = built.plan
        top = max(plan.peak_at(p) for p in range(len(graph.ops)))
        # the ops whose scratch sets the arena's size (the greedy placement may put it above what
        # is live at the peak), then those at the peak of live bytes
        on_top = [p for p in range(len(graph.ops)) if f"scratch{p}" in plan.offsets
                  and plan.offsets[f"scratch{p}"] + built.lowered[p].scratch_bytes > plan.size - 16]
        at_peak = [p for p in range(len(graph.ops)) if plan.peak_at(p) == top]
        improved = False
        for p in dict.fromkeys(on_top + at_peak):
            choices = _shorter_bands(graph.ops[p], graph) if getattr(built.lowered[p], "scratch_bytes", 0) else []
            if not choices:
                continue
            trials = {}

            def trial(rows):
                if rows not in trials:
                    banded = _with_band(graph, p, rows)
                    trials[rows] = (banded, build(banded, target))
                return trials[rows][1].plan.size
            smallest = trial(choices[0])
            if smallest > plan.size - min_gain(plan.size):
                continue
            narrow = _narrow_planes(graph, p)       # one plane, if that does as well: fewer instructions
            narrow_built = build(narrow, target) if narrow is not None else None
            if narrow_built is not None and narrow_built.plan.size <= smallest:
                graph, built = narrow, narrow_built
                improved = True
                break
            rows = next(r for r in reversed(choices) if trial(r) <= smallest)
            graph, built = trials[rows]
            improved = True
            break
        if not improved:
            improved, graph, built = _shrink_two(graph, target, built, build)
        if not improved:
            break
    return graph, built


def _narrow_planes(graph, position: int):
    """The graph with the DEPTHWISE_CONV_2D at position widening one channel at a time into a
    single plane (a quarter of the fast kernel's scratch), or None where it already does. Tried
    before bands: a whole map's layer with one plane costs a few instructions per input value to
    fill (VWW's 48x48x8 layer: +7%), where bands refill the planes' halo rows and set up every band
    (+32% in one-row bands)."""
    op = graph.ops[position]
    if op.type != "DEPTHWISE_CONV_2D" or op.options.get(NARROW_PLANES) \
            or graph.tensor(op.inputs[0]).shape[-1] % 4:
        return None
    ops = list(graph.ops)
    ops[position] = replace(op, options=MappingProxyType({**op.options, NARROW_PLANES: True}))
    return replace(graph, ops=tuple(ops))


def _shrink_two(graph, target, built, build):
    """The greedy placement may need two ops' scratch lower before the arena shrinks (one at the
    peak of live bytes, one on top of the arena): try the PAIR_CANDIDATES banded ops with the most
    bytes live two at a time at their shortest bands, keep the best pair if it shrinks the arena, and let
    each take back the tallest band that keeps that size. (improved, graph, built)."""
    ops = [p for p in range(len(graph.ops)) if getattr(built.lowered[p], "scratch_bytes", 0) > 0
           and _shorter_bands(graph.ops[p], graph)]
    ops = sorted(ops, key=lambda p: -built.plan.peak_at(p))[:PAIR_CANDIDATES]
    best = None
    for i, a in enumerate(ops):
        for b in ops[i + 1:]:
            # each op's least scratch: one plane (a depthwise layer, fewer instructions: first) or its shortest band
            for trial_graph in (_lowest(_lowest(graph, a, narrow_a), b, narrow_b)
                                for narrow_a in (True, False) for narrow_b in (True, False)):
                if trial_graph is None:
                    continue
                trial = build(trial_graph, target)
                if trial.plan.size <= built.plan.size - min_gain(built.plan.size) \
                        and (best is None or trial.plan.size < best[2].plan.size):
                    best = ((a, b), trial_graph, trial)
    if best is None:
        return False, graph, built
    (a, b), graph, chosen = best
    for p in (a, b):
        if graph.ops[p].type not in OP_TYPES and graph.ops[p].options.get(NARROW_PLANES):
            continue
        for rows in reversed(_shorter_bands(graph.ops[p], graph) + [graph.ops[p].options["band_rows"]]):
            taller = _with_band(graph, p, rows)
            trial = build(taller, target)
            if trial.plan.size <= chosen.plan.size:
                graph, chosen = taller, trial
                break
    return True, graph, chosen


def _lowest(graph, position: int, narrow: bool):
    """The graph with the op at position in its least-scratch form: narrow, one plane
    (_narrow_planes; None where the op has no such form), else its shortest band."""
    if graph is None:
        return None
    if narrow:
        return _narrow_planes(graph, position)
    return _with_band(graph, position, _shorter_bands(graph.ops[position], graph)[0])


def _shorter_bands(op, graph) -> list[int]:
    """Band heights the op could take below its current one (a whole map for a depthwise layer)."""
    if op.type in OP_TYPES:
        return [r for r in band_choices(op.options["depthwise"], graph) if r < op.options["band_rows"]]
    if bandable_depthwise(op, graph):
        return band_choices(op, graph)[:-1]
    return []


def _with_band(graph, position: int, rows: int):
    op = graph.ops[position]
    if op.type not in OP_TYPES:
        return band_depthwise(graph, {position: rows})
    ops = list(graph.ops)
    ops[position] = replace(op, options=MappingProxyType({**op.options, "band_rows": rows}))
    return replace(graph, ops=tuple(ops))


def _choose_pairs(graph, target, build):
    force = os.environ.get(FORCE_VARIABLE, "")
    pairs = candidates(graph) if bands_enabled(target) else []
    choices = {dw.index: band_choices(dw, graph) for _, dw in pairs}
    pairs = [(expand, dw) for expand, dw in pairs if choices[dw.index]]
    # single-row bands cost the most per row: the pairs start at MIN_BAND_ROWS (band_at_peak may go lower)
    choices = {k: [r for r in c if r >= MIN_BAND_ROWS] or c for k, c in choices.items()}
    if force.startswith("all") and pairs:
        wanted = int(force.split(":")[1]) if ":" in force else MIN_BAND_ROWS
        rows = {}
        for _, dw in pairs:
            g = geometry(dw, graph)
            rows[dw.index] = min(wanted, g.out_h) if schedule(g, min(wanted, g.out_h)) else choices[dw.index][0]
        forced_graph, forced_target = fuse(graph, target, rows)
        return forced_graph, forced_target, build(forced_graph, forced_target)
    base = build(graph, target)
    if not pairs:
        return graph, target, base
    smallest = {dw.index: choices[dw.index][0] for _, dw in pairs}
    all_graph, all_target = fuse(graph, target, smallest)
    fused_all = build(all_graph, all_target)
    ceiling = fused_all.plan.size
    if ceiling > base.plan.size - min_gain(base.plan.size):
        return graph, target, base
    needed, grown = {}, {}             # pairs that set the peak; every pair, at its tallest band that fits
    for p, op in enumerate(all_graph.ops):
        if "depthwise" not in op.options:
            continue
        dw = op.options["depthwise"]
        # the bytes live beside the fused op's scratch; unfused, the expanded tensor takes its place
        others = fused_all.plan.peak_at(p) - fused_all.lowered[p].scratch_bytes
        expanded = all_graph.tensor(op.options["expand"].outputs[0]).nbytes
        grown[dw.index] = choices[dw.index][0]
        for candidate in choices[dw.index][1:]:
            trial_graph, trial_target = fuse(graph, target, {dw.index: candidate})
            trial = next(t for t in trial_graph.ops if t.options.get("depthwise") is dw)
            if others + _scratch(trial, trial_graph, trial_target) > ceiling:
                break
            grown[dw.index] = candidate
        if others + expanded + ALIGN_SLACK > ceiling:
            needed[dw.index] = grown[dw.index]
    # First only the pairs that set the peak (fewest instructions); the greedy placement may not
    # pack that into the ceiling, then every pair with its tallest band, then those that set the
    # peak at their shortest; else all at the shortest.
    shortest_needed = {k: (choices[k][0] if k in needed else v) for k, v in grown.items()}
    for rows in (needed, grown, shortest_needed):
        rows = dict(rows)
        for _ in range(MAX_ROUNDS):
            chosen_graph, chosen_target = fuse(graph, target, rows)
            chosen = build(chosen_graph, chosen_target)
            if chosen.plan.size <= ceiling:
                return chosen_graph, chosen_target, chosen
            # fuse, at the shortest band, the pairs left unfused where the plan holds too much
            over = {op.outputs[0] for p, op in enumerate(chosen_graph.ops) if chosen.plan.peak_at(p) > ceiling}
            more = {dw.index: choices[dw.index][0] for expand, dw in pairs
                    if dw.index not in rows and {expand.outputs[0], dw.outputs[0]} & over}
            if not more:
                break
            rows.update(more)
    return all_graph, all_target, fused_all


def _absorb_projections(graph, target, built, build):
    """Step 4b: take every projection (and residual) in at once; keep that if the arena drops by
    min_gain() (with the knob at "all", always). A projection whose sub-kernels the fused kernel
    cannot call (another kernel set's) leaves the graph as it was."""
    # on Helium the unfused projection and ADD take the MVE kernels, which the band loop does not call
    found = projections(graph) if target.kernels != "helium" else {}
    if not found:
        return graph, target, built
    rows = {}
    for position in found:
        op = graph.ops[position]
        if op.type in OP_TYPES:
            rows[position] = op.options["band_rows"]
        else:
            choices = band_choices(op, graph)
            rows[position] = next((r for r in choices if r >= MIN_BAND_ROWS), choices[0])
    trial_graph, trial_target = absorb_projections(graph, target, rows)
    try:
        trial = build(trial_graph, trial_target)
    except ValueError:              # expand_depthwise.lower: a sub-kernel it cannot call
        return graph, target, built
    if os.environ.get(FORCE_VARIABLE, ""):
        return trial_graph, trial_target, trial
    if trial.plan.size > built.plan.size - min_gain(built.plan.size):
        return graph, target, built
    return trial_graph, trial_target, trial


def _scratch(op, graph, target) -> int:
    from .expand_depthwise import lower
    return lower(op, graph, target).scratch_bytes
