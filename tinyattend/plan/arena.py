"""Place live ranges in one arena: offsets fixed at generation time.

Greedy first-fit in the style of TFLM's GreedyMemoryPlanner (largest buffer
first, lowest offset that does not collide with a buffer alive at the same
time), tried over several orders; the smallest arena wins. Pure function.

Two buffers alive at the same time may share bytes in one case: a buffer whose
range `leads` another (a raster-order op's output over the input it reads for
the last time, see liveness.py) may overlap it if it starts at least `lead`
bytes below it. First-fit alone rarely finds that arrangement -- it places the
input without knowing an output will want to sit just below it -- so the search
also tries fusing chosen (output, input) pairs into one block, the output exactly
the lead below the input, and keeps whichever set of fused pairs plans smallest
(or the plan without any overlap, if none is smaller).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .liveness import ALIGNMENT, LiveRange, align


@dataclass(frozen=True)
class ArenaPlan:
    offsets: dict            # buffer name -> byte offset
    size: int                # bytes: the arena the plan needs
    ranges: tuple[LiveRange, ...]

    def peak_at(self, position: int) -> int:
        """Bytes in use while op `position` runs (for the memory timeline): the union of the
        live buffers' bytes, so an output overlapping its input counts once."""
        spans = sorted((self.offsets[r.buffer], self.offsets[r.buffer] + r.size)
                       for r in self.ranges if r.first <= position <= r.last)
        used, reach = 0, 0
        for start, end in spans:
            used += max(0, end - max(start, reach))
            reach = max(reach, end)
        return used


def planned_lead(r: LiveRange) -> int:
    """The lead the planner keeps for r over r.leads[0]: the kernel's, rounded up so that
    offsets stay ALIGNMENT-aligned."""
    return align(r.leads[1], ALIGNMENT)


def collisions(ranges, offsets: dict) -> list[str]:
    """Every pair of buffers alive together whose bytes meet, other than an output over the
    input it leads, placed at least the lead below it (and pinned ranges where pinned)."""
    problems = []
    by_name = {r.buffer: r for r in ranges}
    position = {r.buffer: i for i, r in enumerate(ranges)}
    together = alive_together(ranges)
    for i, a in enumerate(ranges):
        if a.pinned is not None and offsets[a.buffer] != offsets[a.pinned[0]] + a.pinned[1]:
            problems.append(f"{a.buffer} is not {a.pinned[1]} bytes above {a.pinned[0]}")
        for b in sorted((by_name[n] for n in together[a.buffer] if position[n] > i), key=lambda r: position[r.buffer]):
            oa, ob = offsets[a.buffer], offsets[b.buffer]
            if oa + a.size <= ob or ob + b.size <= oa:
                continue
            out, source = (a, b) if a.leads and a.leads[0] == b.buffer else (b, a)
            if not (out.leads and out.leads[0] == source.buffer and out.first == source.last
                    and offsets[out.buffer] <= offsets[source.buffer] - out.leads[1]):
                problems.append(f"{a.buffer} and {b.buffer} overlap while both are alive")
    return problems


def _forbidden(buf: LiveRange, other: LiveRange, at: int) -> tuple[int, int]:
    """The open interval of offsets `buf` may not take, given `other` at offset `at`."""
    if buf.leads is not None and buf.leads[0] == other.buffer:        # buf writes over other
        return at - planned_lead(buf), at + other.size
    if other.leads is not None and other.leads[0] == buf.buffer:      # other writes over buf
        return at - buf.size, at + planned_lead(other)
    return at - buf.size, at + other.size


def _blocks(ranges: list[LiveRange], fused: frozenset) -> list[list[tuple[int, LiveRange]]]:
    """Group the ranges into blocks placed as one: a fused output sits exactly its lead
    below its input, a pinned range where it is pinned (each range has at most one such
    parent, so a block is a tree). Each block is a list of (offset within the block, range),
    offsets >= 0."""
    by_name = {r.buffer: r for r in ranges}
    parent: dict[str, tuple[str, int]] = {}      # range -> (range it is placed against, offset)
    for r in ranges:
        if r.pinned is not None and r.pinned[0] in by_name:
            parent[r.buffer] = r.pinned
        elif r.buffer in fused and r.leads is not None and r.leads[0] in by_name:
            parent[r.buffer] = (r.leads[0], -planned_lead(r))
    children: dict[str, list[tuple[str, int]]] = {}
    for name, (above, offset) in parent.items():
        children.setdefault(above, []).append((name, offset))
    blocks, seen = [], set()
    for r in ranges:
        if r.buffer in parent:
            continue                      # placed with the block of its parent
        block, stack = [], [(r.buffer, 0)]
        while stack:
            name, rel = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            block.append((rel, by_name[name]))
            stack += [(child, rel + offset) for child, offset in children.get(name, [])]
        low = min(offset for offset, _ in block)
        blocks.append([(offset - low, member) for offset, member in block])
    # (a cycle of leads cannot come from a graph; should one be given, place its members alone)
    blocks += [[(0, r)] for r in ranges if r.buffer not in seen]
    return blocks


def alive_together(ranges: list[LiveRange]) -> dict[str, tuple[str, ...]]:
    """For each buffer, the other buffers alive at some common time (a sweep over first uses: a
    layer-by-layer graph has a few per buffer, so first fit looks at those, not at all placed)."""
    order = sorted(ranges, key=lambda r: (r.first, r.last))
    together: dict[str, list[str]] = {r.buffer: [] for r in ranges}
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b.first > a.last:
                break
            together[a.buffer].append(b.buffer)
            together[b.buffer].append(a.buffer)
    return {name: tuple(others) for name, others in together.items()}


def _first_fit(blocks: list[list[tuple[int, LiveRange]]], together: dict[str, tuple[str, ...]]) -> tuple[dict, int]:
    placed: dict[str, tuple[int, LiveRange]] = {}
    offsets: dict[str, int] = {}
    for block in blocks:
        forbidden = []                    # open intervals of offsets the block may not take
        for rel, buf in block:
            for name in together[buf.buffer]:
                if name in placed:
                    at, other = placed[name]
                    lo, hi = _forbidden(buf, other, at)
                    if lo < hi:
                        forbidden.append((lo - rel, hi - rel))
        forbidden.sort()
        candidate = 0
        for lo, hi in forbidden:
            if candidate <= lo:
                break
            candidate = max(candidate, hi)
        for rel, buf in block:
            offsets[buf.buffer] = candidate + rel
            placed[buf.buffer] = (candidate + rel, buf)
    size = max((off + b.size for off, b in placed.values()), default=0)
    return offsets, size


def _block_key(order, block: list[tuple[int, LiveRange]]):
    """Sort a block like one range spanning all its members."""
    members = [r for _, r in block]
    if len(members) == 1:
        return order(members[0])
    span = max(offset + r.size for offset, r in block)
    merged = LiveRange(members[0].buffer, span, min(r.first for r in members), max(r.last for r in members), ())
    return order(merged)


ORDERS = {
    "size": lambda r: (-r.size, r.first, r.buffer),
    "size_x_lifetime": lambda r: (-r.size * (r.last - r.first + 1), r.first, r.buffer),
    "first_use": lambda r: (r.first, -r.size, r.buffer),
    "lifetime": lambda r: (-(r.last - r.first), -r.size, r.buffer),
}

# The pair-by-pair search plans the arena 4 orders x 2 x pairs times; above this many
# (pairs x buffers^2) it only tries fusing no pair and every pair.
SEARCH_BUDGET = 300_000


def _best_over_orders(ranges: list[LiveRange], fused: frozenset, together=None) -> tuple[dict, int]:
    blocks = _blocks(ranges, fused)
    together = alive_together(ranges) if together is None else together
    best = None
    for key in ORDERS.values():
        offsets, size = _first_fit(sorted(blocks, key=lambda block: _block_key(key, block)), together)
        if best is None or size < best[1]:
            best = (offsets, size)
    return best


def plan_arena(ranges: list[LiveRange]) -> ArenaPlan:
    pairs = sorted(r.buffer for r in ranges if r.leads is not None and r.pinned is None)
    # Greedy is not monotonic: keep the plan that ignores every overlap as a candidate too,
    # so allowing overlaps never makes the arena larger.
    together = alive_together(ranges)     # the same lifetimes for every plan tried below
    best = _best_over_orders([replace(r, leads=None) for r in ranges], frozenset(), together)
    for start in (frozenset(), frozenset(pairs)):
        fused = start
        current = _best_over_orders(ranges, fused, together)
        if pairs and len(pairs) * len(ranges) ** 2 <= SEARCH_BUDGET:
            for name in pairs:            # one pass: toggle each pair, keep what shrinks the arena
                trial = fused ^ {name}
                plan = _best_over_orders(ranges, trial, together)
                if plan[1] < current[1]:
                    fused, current = trial, plan
        if best is None or current[1] < best[1]:
            best = current
    offsets, size = best
    if collisions(ranges, offsets):       # cannot happen; if it did, give up every overlap
        offsets, size = _best_over_orders([replace(r, leads=None) for r in ranges], frozenset())
    return ArenaPlan(offsets=offsets, size=size, ranges=tuple(ranges))


def lower_bound(ranges: list[LiveRange]) -> int:
    """No plan can need less than the most bytes alive at one time, counting an output
    that may overlap its input as the least the pair can occupy together."""
    by_name = {r.buffer: r for r in ranges}
    points = {r.first for r in ranges} | {r.last for r in ranges}
    best = 0
    for p in points:
        live = [r for r in ranges if r.first <= p <= r.last]
        total = sum(r.size for r in live)
        for r in live:
            source = by_name.get(r.leads[0]) if r.leads and r.pinned is None else None
            if source is not None and source.first <= p <= source.last:
                # the output's whole tensor: its buffer and the tails pinned to it (their lead is its own)
                out = r.size + sum(t.size for t in live if t.pinned is not None and t.pinned[0] == r.buffer)
                together = max(out, max(r.leads[1], 0) + source.size)
                total -= max(0, out + source.size - together)
        best = max(best, total)
    return best
