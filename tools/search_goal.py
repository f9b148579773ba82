"""Issue 18's goal, checked on a search's OUT/summary.json: front models at least as accurate as the bundled
demo model (int8 top-1 on the same 450 held-out digits) at fewer emulated Cortex-M7 instructions.

    python tools/search_goal.py search-out
"""
from __future__ import annotations

import csv
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
    _plot_with_demo(Path(argv[0]), summary)
    return 0 if better else 1


def _plot_with_demo(out: Path, summary: dict) -> None:
    """OUT/pareto_vs_demo.png: the search's plot with the demo model marked."""
    from tinyattend.search.plot import plot_pareto
    from tinyattend.search.results import pareto_front
    with open(out / "trials.csv") as handle:
        rows = [dict(r) for r in csv.DictReader(handle)]
    for row in rows:
        for key in ("trial", "instructions", "peak_ram"):
            row[key] = int(row[key]) if row[key] else None
        row["int8_top1"] = float(row["int8_top1"]) if row["int8_top1"] else None
        row["bit_exact"] = row["bit_exact"] == "True"
    front = pareto_front(rows)
    chosen = next((r for r in front if summary["recommended"] and r["trial"] == summary["recommended"]["trial"]), None)
    plot_pareto(rows, front, chosen, out / "pareto_vs_demo.png", summary["board"],
                reference=("demo model (attendnext_digits)", DEMO_INSTRUCTIONS, DEMO_INT8_TOP1))
    print(f"plot: {out / 'pareto_vs_demo.png'}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
