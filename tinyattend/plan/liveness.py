"""Live ranges of the arena's buffers, computed from the lowered graph.

A buffer holds one or more tensors: an aliasing op (RESHAPE) puts its output
in its input's buffer, and an in-place op may put its output in the buffer
of an input that dies at that op (when its output is smaller, the rest of the
buffer becomes a range of its own, `pinned` after it, that ends at that op).
Scratch buffers live for one op.
A raster-order kernel (KernelCall.overlap) may write its output over the part of
an input it has finished reading: when that input's buffer dies at the op, the
output's range records the input buffer and the lead (`LiveRange.leads`), and
the arena planner may let the two overlap.
Op positions are indices into the execution order; a buffer is live over
[first, last] inclusive.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..codegen.lowering import Alias, KernelCall
from ..ir.graph import Graph

ALIGNMENT = 16


def align(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class LiveRange:
    buffer: str              # "t<index>" for tensors, "scratch<op>" for scratch
    size: int                # bytes, aligned
    first: int               # op position where it is first written (-1: before the first op)
    last: int                # op position where it is last read (len(ops): after the last op)
    tensors: tuple[int, ...] # tensors stored in this buffer
    # (buffer, lead): this buffer is written at `first` by a raster-order op that reads that
    # buffer for the last time; it may overlap it if it starts at least `lead` bytes below it
    leads: tuple[str, int] | None = None
    # (buffer, offset): this range is the part of that buffer beyond `offset` bytes, freed when
    # an in-place op left a smaller tensor in it; it must sit exactly `offset` bytes above it
    pinned: tuple[str, int] | None = None

    def overlaps_in_time(self, other: "LiveRange") -> bool:
        return self.first <= other.last and other.first <= self.last


def live_ranges(graph: Graph, lowered: list) -> tuple[list[LiveRange], dict[int, str]]:
    """Return the buffers' live ranges and the map tensor index -> buffer name."""
    n_ops = len(graph.ops)
    owner: dict[int, str] = {}          # tensor -> buffer name
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    size: dict[str, int] = {}
    members: dict[str, list[int]] = {}
    tails: list[tuple[str, int, int, int]] = []   # (buffer, position, offset, bytes) freed there

    def new_buffer(tensor: int, position: int) -> None:
        name = f"t{tensor}"
        owner[tensor] = name
        first[name], last[name] = position, position
        size[name] = graph.tensor(tensor).nbytes
        members[name] = [tensor]

    for tensor in graph.inputs:
        new_buffer(tensor, -1)
    # Which position each tensor is last read at, to decide in-place reuse.
    last_read: dict[int, int] = {}
    for position, op in enumerate(graph.ops):
        for tensor in op.inputs:
            if tensor is not None:
                last_read[tensor] = position
    for tensor in graph.outputs:
        last_read[tensor] = n_ops

    for position, (op, low) in enumerate(zip(graph.ops, lowered)):
        for tensor in op.inputs:
            if tensor is not None and tensor in owner:
                last[owner[tensor]] = max(last[owner[tensor]], position)
        out = op.outputs[0]
        if isinstance(low, Alias) and low.source in owner:
            name = owner[low.source]
            owner[out] = name
            members[name].append(out)
            continue
        reuse = None
        if isinstance(low, KernelCall) and low.in_place:
            for tensor in op.inputs:
                if (tensor is not None and tensor in owner and last_read.get(tensor) == position
                        and tensor not in graph.outputs and size[owner[tensor]] >= graph.tensor(out).nbytes
                        and last_read.get(out, position) >= position):
                    # Every tensor sharing that buffer must be dead after this op.
                    if all(last_read.get(t, -1) <= position for t in members[owner[tensor]]):
                        reuse = owner[tensor]
                        break
        for extra_out in op.outputs:
            if reuse is not None and extra_out == out:
                owner[out] = reuse
                members[reuse].append(out)
                kept = align(graph.tensor(out).nbytes)
                if kept < align(size[reuse]):     # a smaller output: the rest is free after this op
                    tails.append((reuse, position, kept, align(size[reuse]) - kept))
                    size[reuse] = graph.tensor(out).nbytes
            else:
                new_buffer(extra_out, position)
    for tensor in graph.outputs:
        last[owner[tensor]] = n_ops
    for tensor, position in last_read.items():
        if tensor in owner:
            last[owner[tensor]] = max(last[owner[tensor]], position)

    leads = _overlap_leads(graph, lowered, owner, first, last)
    ranges = [LiveRange(name, align(size[name]), first[name], last[name], tuple(members[name]), leads.get(name))
              for name in size]
    for name, position, offset, nbytes in tails:
        lead = leads.get(name)        # the buffer's whole first tensor had to lead that input
        ranges.append(LiveRange(f"{name}_tail{position}", nbytes, first[name], position, (),
                                (lead[0], lead[1] - offset) if lead else None, pinned=(name, offset)))
    for position, low in enumerate(lowered):
        if isinstance(low, KernelCall) and low.scratch_bytes > 0:
            ranges.append(LiveRange(f"scratch{position}", align(low.scratch_bytes), position, position, ()))
    return ranges, owner


def _overlap_leads(graph: Graph, lowered: list, owner: dict, first: dict, last: dict) -> dict:
    """Output buffer -> (input buffer, lead) for every op whose kernel may overlap its
    output with an input, where that is safe for the whole buffers: the output's buffer
    is new at the op, and the input's buffer (with every tensor aliased into it) is last
    read there, is no model output, and is not passed to the op through another input."""
    leads = {}
    for position, (op, low) in enumerate(zip(graph.ops, lowered)):
        if not isinstance(low, KernelCall) or low.overlap is None:
            continue
        tensor, lead = low.overlap
        source, target = owner.get(tensor), owner.get(op.outputs[0])
        if source is None or target is None or source == target:
            continue
        others = {owner.get(t) for t in op.inputs if t is not None and t != tensor}
        if first[target] == position and last[source] == position and source not in others:
            leads[target] = (source, lead)
    return leads
