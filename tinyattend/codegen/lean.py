"""Per layer, the lean kernel where the fast one's scratch costs RAM (issue 17's RAM ceiling), and the
fast conv without its padded input copy where that copy raises the arena.

The fast kernels buy instructions with scratch: the fast BATCH_MATMUL widens both operands to
int16, the fast depthwise pads whole channel planes, the fast FULLY_CONNECTED stages its input.
Where such a scratch buffer sits at the peak of the plan, it raises the arena above what the
portable kernel (no scratch) needs -- on an attention block of 64 tokens of 24 channels above
TFLM's own arena (18,432 B against 14,640; portable 9,728).

With an arena limit (Target.arena_limit), while the plan is over it: lower with the portable
kernel one op at the peak (its scratch live at the peak or reaching the arena's top): of those
whose portable kernel brings the arena within the limit, the one with the fewest MACs; else the
one that shrinks it most -- the fastest plan found that fits, greedily; refuse with the numbers
when no op shrinks it any more. The limit is --ram
(or the board's RAM) less the stack, and, with --kernels auto (not --optimize speed), TFLM's
arena less STACK_ALLOWANCE (pipeline.py asks for a second plan when the first is above it:
`tflm_ceiling`). Target.lean_ops holds the chosen op indices; generate._lower takes the portable
kernels for them.
"""
from __future__ import annotations

import os
from dataclasses import replace

from ..errors import DoesNotFitError
from .fusion.policy import FORCE_VARIABLE

# portable needs no scratch; cmsis-nn runs TFLM's kernels (within TFLM's arena by folding PADs: graph_rewrites)
LEAN_KERNEL_SETS = ("auto", "fast", "helium")
# our peak RAM is the arena plus the stack's high-water mark (about 0.7 KB on the M7), TFLM's
# figure its arena alone: the ceiling keeps that much below TFLM's arena
STACK_ALLOWANCE = 1024


def tflm_ceiling(target, arena_bytes: int, tflm_arena_bytes: int | None) -> int | None:
    """The arena limit that keeps the plan's peak RAM within TFLM's arena, when the plan is above
    it and the kernels are ours to choose (--kernels auto, not --optimize speed, fusion's
    measurement knob not "off"); else None (keep the plan)."""
    if not tflm_arena_bytes or not target.auto_kernels or target.optimize == "speed" \
            or target.kernels not in LEAN_KERNEL_SETS or os.environ.get(FORCE_VARIABLE, "") == "off":
        return None
    limit = tflm_arena_bytes - STACK_ALLOWANCE
    if arena_bytes <= limit or (target.arena_limit is not None and target.arena_limit <= limit):
        return None
    return limit


def tflm_arena_floor(graph) -> int:
    """Bytes TFLM's arena holds at least: the non-constant tensors one op reads and writes are all
    allocated while it runs, and TFLM's planner never overlaps two live tensors. A plan at most this
    minus STACK_ALLOWANCE is within TFLM's arena without measuring it."""
    return max((sum(graph.tensor(i).nbytes for i in {*op.inputs, *op.outputs}
                    if i is not None and i >= 0 and not graph.tensor(i).is_constant) for op in graph.ops), default=0)


def choose_lean_kernels(graph, target, built, build, model_name: str):
    """(target, built) with target.lean_ops chosen; build(graph, target) lowers and plans."""
    if target.kernels not in LEAN_KERNEL_SETS:
        return target, built
    limit = target.arena_limit
    while limit is not None and built.plan.size > limit:
        trials = []
        for p in _at_peak(graph, target, built):
            trial_target = replace(target, lean_ops=target.lean_ops | {p})
            trial = build(graph, trial_target)
            if trial.plan.size < built.plan.size:
                trials.append((built.lowered[p].macs, trial.plan.size, trial_target, trial))
        # one that fits, the fewest MACs on the slower kernel; else the one that shrinks the arena most
        fitting = [t for t in trials if t[1] <= limit]
        best = min(fitting, key=lambda t: t[:2]) if fitting else min(trials, key=lambda t: t[1::-1], default=None)
        if best is None:
            raise DoesNotFitError(
                f"{model_name}: the arena needs {built.plan.size:,} B with the lean kernels at its peak "
                f"({len(target.lean_ops)} layer(s)); the RAM budget leaves {limit:,} B for it "
                f"({built.plan.size - limit:,} B too many)",
                "raise --ram (or use a board with more RAM), or use a smaller input resolution or model")
        target, built = best[2:]
    return target, built


def drop_copies_at_peak(graph, target, built, build):
    """(target, built) without the padded input copy of each fast first layer (conv_2d.padded_copy_bytes)
    whose copy raises the arena: a copy small beside the layer's output never does, but on a small map
    of a few channels (a condenser's 3x3 conv) the scratch can set the peak. Each copy is tried once,
    the plan kept where it shrinks."""
    copies = [p for p, low in enumerate(built.lowered)
              if getattr(low, "function", None) == "ta_conv2d_s8_fast" and ("padded_copy", 1) in low.params]
    for p in copies:
        trial_target = replace(target, uncopied_ops=target.uncopied_ops | {graph.ops[p].index})
        trial = build(graph, trial_target)
        if trial.plan.size < built.plan.size:
            target, built = trial_target, trial
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
