"""What `--optimize` trades, decided once per model before lowering (a pure function of the graph).

The fast CONV_2D kernel can store a layer's weights widened to int16: its tile then does 16
instead of 20 instructions per 24 MACs (no SXTB16 on the weights, one LDM for them; 18 with split
int8 weights), and 4 instead of 5 per output to requantize (weights and bias stored doubled), at twice the layer's weight
flash. `speed` widens every fast convolution; `size` takes the portable kernels (see
ops/_fast.wants_fast); `balanced` widens the layers that save the most instructions per extra
byte until BALANCED_WIDENING_BYTES are spent.

Why that budget: TFLM + CMSIS-NN needs 71-77 KB of runtime code for the MLPerf conv models
(issue 7's measurement) besides the .tflite; our generated code and kernels take 16-30 KB and our
constants about the .tflite's weights. Spending at most 40 KiB of the difference on widened
weights keeps total flash below what TFLM + CMSIS-NN would take for the same model.
"""
from __future__ import annotations

from dataclasses import replace

from ..ir.graph import Graph
from .lowering import Target
from .ops import _winograd
from .ops.conv_2d import fast_conv

BALANCED_WIDENING_BYTES = 40 * 1024


def plan_widening(graph: Graph, target: Target) -> Target:
    """The target with `wide_ops` set: the CONV_2D ops whose weights are stored as int16."""
    if target.kernels == "helium":          # its convolutions take the MVE kernel, int8 weights only
        return target
    candidates = [op for op in graph.ops if op.type == "CONV_2D" and fast_conv(op, graph, target)]
    winograd = [op for op in candidates if _winograd.eligible(op, graph)]
    if target.optimize == "speed":
        chosen = frozenset(op.index for op in winograd)
        return replace(target, winograd_ops=chosen,
                       wide_ops=frozenset(op.index for op in candidates if op.index not in chosen))
    if target.optimize != "balanced":
        return target
    target, spent = _plan_winograd(graph, target, winograd)
    candidates = [op for op in candidates if op.index not in target.winograd_ops]
    # Saved instructions are proportional to a layer's MACs; the cost is its weight bytes.
    def macs_per_byte(op) -> float:
        w, y = graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
        return y.num_elements * w.shape[1] * w.shape[2] * w.shape[3] / w.nbytes

    chosen = set()
    for op in sorted(candidates, key=lambda o: (-macs_per_byte(o), o.index)):
        extra = graph.tensor(op.inputs[1]).nbytes
        if spent + extra <= BALANCED_WIDENING_BYTES:
            chosen.add(op.index)
            spent += extra
    return replace(target, wide_ops=frozenset(chosen))


def _plan_winograd(graph: Graph, target: Target, eligible: list) -> tuple[Target, int]:
    """(target with winograd_ops, bytes of the balanced budget they spend): the eligible layers, most
    MACs per extra byte first, within the budget. Winograd goes before widening: on the M7 it takes a
    3x3 stride-1 layer from about 0.93 to 0.63 instructions per MAC for 2.56 extra bytes per weight
    byte (int16 transformed weights, 16 per 9 int8 ones), more saved per extra byte than widening's
    0.125 per MAC for 1 extra byte."""
    def extra_bytes(op) -> int:
        return _winograd.weight_bytes(op, graph) - graph.tensor(op.inputs[1]).nbytes

    def macs_per_extra_byte(op) -> float:
        w, y = graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
        return y.num_elements * w.shape[1] * w.shape[2] * w.shape[3] / extra_bytes(op)

    chosen, spent = set(), 0
    for op in sorted(eligible, key=lambda o: (-macs_per_extra_byte(o), o.index)):
        if spent + extra_bytes(op) <= BALANCED_WIDENING_BYTES:
            chosen.add(op.index)
            spent += extra_bytes(op)
    return replace(target, winograd_ops=frozenset(chosen)), spent
