"""Which expansion/depthwise pairs to fuse, and how tall their bands are: the decision that trades
peak RAM against instructions (issue 17's goal: the peak as low as fusion takes it, instructions
within a few percent of the unfused model's).

A fused pair costs instructions per band (the sub-kernels' per-call setup, the rows moved to the
buffer's top, the fast depthwise's padded planes filled again for the halo rows), so fewer, taller
bands are cheaper; shorter bands take less RAM. The search:
  1. plan the unfused model, and the model with every pair fused at MIN_BAND_ROWS;
  2. if that does not lower the arena, fuse nothing;
  3. else unfuse each pair whose layers never held more than that arena's bytes (it is not what
     sets the peak), and give each pair kept the tallest band (doubling from MIN_BAND_ROWS) whose
     scratch keeps the bytes live at its op within that arena;
  4. keep that plan if its arena is no larger than step 1's fused one, else step 1's.
"""
from __future__ import annotations

import os

from .expand_depthwise import geometry, schedule
from .inverted_residual import candidates, fuse

MIN_BAND_ROWS = 2
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


def choose_fusion(graph, target, build):
    """(graph, target, built) with the chosen pairs fused; build(graph, target) -> an object with
    .plan (ArenaPlan) and .lowered, the whole lowering and planning of a graph."""
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
    position = {op.index: p for p, op in enumerate(graph.ops)}
    needed = [(expand, dw) for expand, dw in pairs
              if max(base.plan.peak_at(position[expand.index]), base.plan.peak_at(position[dw.index])) > ceiling]
    fused_position = {op.options["depthwise"].index: p for p, op in enumerate(all_graph.ops)
                      if "depthwise" in op.options}
    rows = {}
    for _, dw in needed:
        p = fused_position[dw.index]
        low = fused_all.lowered[p]
        others = fused_all.plan.peak_at(p) - low.scratch_bytes     # the bytes live beside its scratch
        rows[dw.index] = choices[dw.index][0]
        for candidate in choices[dw.index][1:]:
            trial_graph, trial_target = fuse(graph, target, {dw.index: candidate})
            trial = next(op for op in trial_graph.ops if op.options.get("depthwise") is dw)
            scratch = _scratch(trial, trial_graph, trial_target)
            if others + scratch > ceiling:
                break
            rows[dw.index] = candidate
    chosen_graph, chosen_target = fuse(graph, target, rows)
    chosen = build(chosen_graph, chosen_target)
    if chosen.plan.size <= ceiling:
        return chosen_graph, chosen_target, chosen
    return all_graph, all_target, fused_all


def _scratch(op, graph, target) -> int:
    from .expand_depthwise import lower
    return lower(op, graph, target).scratch_bytes
