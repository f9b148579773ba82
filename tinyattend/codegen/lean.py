"""Per layer, the lean kernel where the fast one's scratch costs RAM (issue 17's RAM ceiling).

The fast kernels buy instructions with scratch: the fast BATCH_MATMUL widens both operands to
int16, the fast depthwise pads whole channel planes, the fast FULLY_CONNECTED stages its input.
Where such a scratch buffer sits at the peak of the plan, it raises the arena above what the
portable kernel (no scratch) needs -- on an attention block of 64 tokens of 24 channels above
TFLM's own arena (18,432 B against 14,640; portable 9,728). Two steps, after fusion:

  1. with --kernels auto, unless --optimize speed: lower with the portable kernel each op whose
     scratch is at the peak (or on top of the arena) where that takes at least min_gain() off the
     arena, one at a time, the largest scratch first (an explicit kernel set is kept);
  2. with an arena limit (--ram, or the board's RAM, less the stack): while the plan is over
     it, lower with the portable kernel the op at the peak that costs the fewest MACs among
     those that shrink the arena (the fastest plan that fits, greedily); refuse with the numbers
     when no op shrinks it any more.

Target.lean_ops holds the chosen op indices; generate._lower takes the portable kernels for them.
TINYATTEND_FUSION=off (fusion/policy.py's knob) leaves out step 1 too: the plan before issue 17.
"""
from __future__ import annotations

import os
from dataclasses import replace

from ..errors import DoesNotFitError
from .fusion.policy import FORCE_VARIABLE, min_gain

LEAN_KERNEL_SETS = ("auto", "fast", "helium")   # portable needs no scratch; cmsis-nn runs TFLM's graph
MAX_STEPS = 64


def choose_lean_kernels(graph, target, built, build, model_name: str):
    """(target, built) with target.lean_ops chosen; build(graph, target) lowers and plans."""
    if target.kernels not in LEAN_KERNEL_SETS:
        return target, built
    # issue 17's measurement knob (TINYATTEND_FUSION=off) gives the plan before that issue's work
    choose = target.auto_kernels and target.optimize != "speed" and os.environ.get(FORCE_VARIABLE, "") != "off"
    if choose:
        for _ in range(MAX_STEPS):
            plan = built.plan
            for p in sorted(_at_peak(graph, target, built), key=lambda p: -built.lowered[p].scratch_bytes):
                trial_target = replace(target, lean_ops=target.lean_ops | {p})
                trial = build(graph, trial_target)
                if trial.plan.size <= plan.size - min_gain(plan.size):
                    target, built = trial_target, trial
                    break
            else:
                break
    limit = target.arena_limit
    while limit is not None and built.plan.size > limit:
        best = None
        for p in sorted(_at_peak(graph, target, built), key=lambda p: built.lowered[p].macs):
            trial_target = replace(target, lean_ops=target.lean_ops | {p})
            trial = build(graph, trial_target)
            if trial.plan.size < built.plan.size:
                best = (trial_target, trial)
                break
        if best is None:
            raise DoesNotFitError(
                f"{model_name}: the arena needs {built.plan.size:,} B with the lean kernels at its peak "
                f"({len(target.lean_ops)} layer(s)); the RAM budget leaves {limit:,} B for it "
                f"({built.plan.size - limit:,} B too many)",
                "raise --ram (or use a board with more RAM), or use a smaller input resolution or model")
        target, built = best
    return target, built


def _at_peak(graph, target, built) -> list[int]:
    """Ops not yet lean whose scratch is live at the plan's peak or reaches its top."""
    plan = built.plan
    top = max((plan.peak_at(p) for p in range(len(graph.ops))), default=0)
    found = []
    for p, low in enumerate(built.lowered):
        scratch = getattr(low, "scratch_bytes", 0)
        if not scratch or p in target.lean_ops or getattr(low, "library", None):
            continue
        offset = plan.offsets.get(f"scratch{p}")
        if plan.peak_at(p) == top or (offset is not None and offset + scratch > plan.size - 16):
            found.append(p)
    return found
