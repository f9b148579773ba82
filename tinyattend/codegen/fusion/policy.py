"""Which expansion/depthwise pairs to fuse, and how tall their bands are: the decision that trades
peak RAM against instructions (issue 17's goal: the peak as low as fusion takes it, instructions
within a few percent of the unfused model's).

A fused pair costs instructions per band (the sub-kernels' per-call setup, the rows moved to the
buffer's top, the fast depthwise's padded planes filled again for the halo rows), so fewer, taller
bands are cheaper; shorter bands take less RAM. The search:
  1. plan the unfused model, and the model with every pair fused at MIN_BAND_ROWS;
  2. if that does not lower the arena, fuse nothing;
  3. else unfuse each pair whose expanded tensor fits beside the bytes live at its op within that
     arena (it is not what sets the peak), and give each pair kept the tallest band (doubling from
     MIN_BAND_ROWS) whose scratch keeps the bytes live at its op within that arena;
  4. keep that plan if its arena is no larger than step 1's fused one; else fuse also the pairs
     unfused at the ops where it holds more, and plan again (MAX_ROUNDS times), else step 1's;
  5. where the peak is then a depthwise layer beside its fast kernel's planes (a whole map tall),
     run that layer band by band too (band_at_peak).
"""
from __future__ import annotations

import os
from dataclasses import replace
from types import MappingProxyType

from .expand_depthwise import OP_TYPES, geometry, schedule
from .inverted_residual import band_depthwise, bandable_depthwise, candidates, fuse

MIN_BAND_ROWS = 2
MAX_ROUNDS = 4            # plans tried after the estimate, adding pairs where it was wrong
ALIGN_SLACK = 64          # the planner's alignment of the buffers around a pair (bytes)
# A test and measurement knob, not an option: "off" fuses nothing, "all" or "all:ROWS" every pair
# (bands of ROWS output rows where the kernel can run them, else the shortest it can).
FORCE_VARIABLE = "TINYATTEND_FUSION"


def band_choices(dw, graph) -> list[int]:
    """Band heights to try for a pair, shortest first: MIN_BAND_ROWS doubling up to the whole
    output, those the kernel can run (schedule() not None)."""
    g = geometry(dw, graph)
    rows, choices = MIN_BAND_ROWS, []
    while True:
        rows = min(rows, g.out_h)
        if schedule(g, rows) is not None:
            choices.append(rows)
        if rows >= g.out_h:
            return choices
        rows *= 2


def fusion_enabled(target) -> bool:
    """Fusion runs for our kernel sets (the cmsis-nn set runs the graph as TFLM does), unless the
    knob turns it off."""
    return target.kernels != "cmsis-nn" and os.environ.get(FORCE_VARIABLE, "") != "off"


def choose_fusion(graph, target, build):
    """(graph, target, built) with the chosen pairs fused and the depthwise layers at the peak
    banded; build(graph, target) -> an object with .plan (ArenaPlan) and .lowered, the whole
    lowering and planning of a graph."""
    graph, target, built = _choose_pairs(graph, target, build)
    if target.kernels == "cmsis-nn" or os.environ.get(FORCE_VARIABLE, ""):
        return graph, target, built
    graph, built = band_at_peak(graph, target, built, build)
    return graph, target, built


def band_at_peak(graph, target, built, build):
    """Where the peak is an op with a large scratch -- a depthwise layer beside the fast kernel's
    padded planes (a whole map tall), or a fused pair whose band step 3 made tall -- run it in
    shorter bands: the tallest that gives the smallest arena, while that shrinks it. Returns the
    graph and its build."""
    for _ in range(MAX_ROUNDS):
        top = max(built.plan.peak_at(p) for p in range(len(graph.ops)))
        at_peak = [p for p, op in enumerate(graph.ops) if built.plan.peak_at(p) == top
                   and built.lowered[p].scratch_bytes > 0 and _shorter_bands(op, graph)]
        if not at_peak:
            break
        p = at_peak[0]
        choices = _shorter_bands(graph.ops[p], graph)
        trials = {}

        def trial(rows):
            if rows not in trials:
                banded = _with_band(graph, p, rows)
                trials[rows] = (banded, build(banded, target))
            return trials[rows][1].plan.size
        smallest = trial(choices[0])
        if smallest >= built.plan.size:
            break
        rows = next(r for r in reversed(choices) if trial(r) <= smallest)
        graph, built = trials[rows]
    return graph, built


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
    pairs = candidates(graph) if target.kernels != "cmsis-nn" and force != "off" else []
    choices = {dw.index: band_choices(dw, graph) for _, dw in pairs}
    pairs = [(expand, dw) for expand, dw in pairs if choices[dw.index]]
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
    if ceiling >= base.plan.size:
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


def _scratch(op, graph, target) -> int:
    from .expand_depthwise import lower
    return lower(op, graph, target).scratch_bytes
