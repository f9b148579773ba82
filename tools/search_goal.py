"""Issue 18's goal, checked on a search's OUT/summary.json: front models at least as accurate as the bundled
demo model (int8 top-1 on the same 450 held-out digits) at fewer emulated Cortex-M7 instructions.

    python tools/search_goal.py search-out
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DEMO_INT8_TOP1 = 0.982           # models/README.md and `make demo`: 442 of 450 held-out digits
DEMO_INSTRUCTIONS = 2_066_320    # `make demo` on the emulated Cortex-M7 (QEMU -icount shift=0)


def main(argv: list[str]) -> int:
    summary = json.loads((Path(argv[0]) / "summary.json").read_text())
    better = [m for m in summary["front"] if m["int8_top1"] >= DEMO_INT8_TOP1 - 1e-9
              and m["instructions"] < DEMO_INSTRUCTIONS and m["bit_exact"]]
    seconds = summary["trial_seconds"]
    print(f"\nsearch: {summary['trials']['finished']} trials, {summary['wall_s'] / 60:.1f} min wall (last run); "
          f"trial time: training {seconds['train_s']:.0f} s, conversion {seconds['convert_s']:.0f} s, "
          f"emulation {seconds['emulate_s']:.0f} s, scoring {seconds['evaluate_s']:.0f} s")
    print(f"demo model: {100 * DEMO_INT8_TOP1:.1f}% int8 top-1 at {DEMO_INSTRUCTIONS:,} instructions")
    for m in better:
        print(f"  beats it: trial {m['trial']}: {100 * m['int8_top1']:.2f}% at {m['instructions']:,} instructions "
              f"({m['instructions'] / DEMO_INSTRUCTIONS:.2f}x), peak RAM {m['peak_ram']:,} B  {m['architecture']}")
    if not better:
        print("  no front model is at least as accurate at fewer instructions")
    return 0 if better else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
