"""The search's Pareto plot: int8 top-1 against instructions, peak RAM as colour."""
from __future__ import annotations

from pathlib import Path


def plot_pareto(trial_rows: list[dict], front: list[dict], chosen: dict | None, path: Path, board: str,
                reference: tuple[str, int, float] | None = None) -> None:
    """`reference`: (label, instructions, int8 top-1) of a model to beat, drawn as a black cross."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in trial_rows if r["status"] == "complete"]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    if done:
        points = ax.scatter([r["instructions"] for r in done], [100 * r["int8_top1"] for r in done],
                            c=[r["peak_ram"] / 1024 for r in done], cmap="viridis", s=36, edgecolors="none",
                            label="trials")
        fig.colorbar(points, ax=ax, label="peak RAM (KiB, arena + stack)")
    if front:
        ax.step([r["instructions"] for r in front], [100 * r["int8_top1"] for r in front], where="post",
                color="tab:red", linewidth=1.2, label="Pareto front")
    if chosen:
        ax.scatter([chosen["instructions"]], [100 * chosen["int8_top1"]], marker="*", s=260, facecolors="none",
                   edgecolors="tab:red", linewidths=1.5, label=f"recommended (trial {chosen['trial']})")
    if reference:
        label, instructions, top1 = reference
        ax.scatter([instructions], [100 * top1], marker="X", s=90, color="black", label=label)
    rejected = sum(r["status"] == "rejected" for r in trial_rows)
    failed = sum(r["status"] == "failed" for r in trial_rows)
    ax.set_xscale("log")
    ax.set_xlabel(f"instructions per inference on the emulated {board} (QEMU -icount; not cycles)")
    ax.set_ylabel("int8 top-1 on the held-out split (%)")
    ax.set_title(f"tinyattend search: {len(done)} complete, {rejected} rejected, {failed} failed")
    ax.grid(True, which="both", alpha=0.3)
    if done:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
