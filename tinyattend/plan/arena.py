"""Place live ranges in one arena: offsets fixed at generation time.

Greedy first-fit in the style of TFLM's GreedyMemoryPlanner (largest buffer
first, lowest offset that does not collide with a buffer alive at the same
time), tried over several orders; the smallest arena wins. Pure function.
"""
from __future__ import annotations

from dataclasses import dataclass

from .liveness import LiveRange


@dataclass(frozen=True)
class ArenaPlan:
    offsets: dict            # buffer name -> byte offset
    size: int                # bytes: the arena the plan needs
    ranges: tuple[LiveRange, ...]

    def peak_at(self, position: int) -> int:
        """Bytes in use while op `position` runs (for the memory timeline)."""
        return sum(r.size for r in self.ranges if r.first <= position <= r.last)


def _overlap_in_time(a: LiveRange, b: LiveRange) -> bool:
    return a.first <= b.last and b.first <= a.last


def _first_fit(order: list[LiveRange]) -> tuple[dict, int]:
    placed: list[tuple[int, LiveRange]] = []
    offsets: dict[str, int] = {}
    for buf in order:
        busy = sorted((off, off + other.size) for off, other in placed if _overlap_in_time(buf, other))
        candidate = 0
        for start, end in busy:
            if candidate + buf.size <= start:
                break
            candidate = max(candidate, end)
        offsets[buf.buffer] = candidate
        placed.append((candidate, buf))
    size = max((off + b.size for off, b in placed), default=0)
    return offsets, size


ORDERS = {
    "size": lambda r: (-r.size, r.first, r.buffer),
    "size_x_lifetime": lambda r: (-r.size * (r.last - r.first + 1), r.first, r.buffer),
    "first_use": lambda r: (r.first, -r.size, r.buffer),
    "lifetime": lambda r: (-(r.last - r.first), -r.size, r.buffer),
}


def plan_arena(ranges: list[LiveRange]) -> ArenaPlan:
    best = None
    for key in ORDERS.values():
        offsets, size = _first_fit(sorted(ranges, key=key))
        if best is None or size < best[1]:
            best = (offsets, size)
    offsets, size = best
    return ArenaPlan(offsets=offsets, size=size, ranges=tuple(ranges))


def lower_bound(ranges: list[LiveRange]) -> int:
    """No plan can need less than the most bytes alive at one time."""
    points = {r.first for r in ranges} | {r.last for r in ranges}
    return max((sum(r.size for r in ranges if r.first <= p <= r.last) for p in points), default=0)
