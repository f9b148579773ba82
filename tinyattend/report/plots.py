"""The report's figures: plain data in, PNG bytes out (matplotlib, Agg; no pyplot global state).

Every function takes JSON-ready data (what report.json and bench.json hold) and returns PNG bytes.
Ops are labelled "<index> <TYPE>" in execution order; sizes are in bytes (KiB where they grow).
"""
from __future__ import annotations

import io
import itertools

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

DPI = 110
WORST = "#c0392b"
MAIN = "#2e86c1"
SECOND = "#7f8c8d"


def op_label(index: int, op: str) -> str:
    return f"{index} {op}"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _width(count: int) -> float:
    """Figure width in inches for `count` op labels on the x axis."""
    return min(24.0, max(7.0, 0.38 * count + 2.5))


def _thousands(value, _pos=None) -> str:
    return f"{value:,.0f}"


def _op_axis(ax, labels: list[str], positions=None) -> None:
    positions = list(range(len(labels))) if positions is None else positions
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_xlim(min(positions, default=0) - 0.6, max(positions, default=0) + 0.6)


FUSED_LAYERS = {                 # report.json key -> label, in the order a fused op runs them
    "fused_groups": (("expand", "expand"), ("dw", "depthwise"), ("project", "project"), ("add", "residual")),
    "upsample_mul_groups": (("resize", "resize"), ("mul", "mul"), ("add", "residual")),
}


def fused_label(group: dict) -> str:
    """What a fused op runs as one kernel: 'expand+dw+project+add' for one of report.json's
    fused_groups, 'resize+mul' or 'resize+mul+add' for one of its upsample_mul_groups."""
    layers = FUSED_LAYERS["upsample_mul_groups" if "mul" in group else "fused_groups"]
    return "+".join(name for name, key in layers if group.get(key) is not None)


def timeline_labels(ops: list[str], fused_groups=None, upsample_mul_groups=None) -> list[str]:
    """The arena timeline's op names, a fused op's with the layers it runs: 'UPSAMPLE_MUL[resize+mul+add]'."""
    labels = {g["op"]: fused_label(g) for g in [*(fused_groups or []), *(upsample_mul_groups or [])]}
    return [f"{op}[{labels[i]}]" if i in labels else op for i, op in enumerate(ops)]


def arena_timeline(buffers: list[dict], timeline: list[dict], ops: list[str], arena_bytes: int,
                   fused_groups: list[dict] | None = None, upsample_mul_groups: list[dict] | None = None) -> bytes:
    """Which buffer occupies which arena bytes while which op runs; the peak op is marked.

    buffers: {buffer, offset, size, first, last} (first -1: the model input, before op 0;
    last == len(ops): the model output, after the last op). timeline: {op, bytes_live}.
    fused_groups: report.json's (codegen/fusion/): each fused op is one x position, labelled with
    the layers it runs, and its scratch is labelled as the band ring buffer it holds.
    upsample_mul_groups: report.json's streamed condenser tails, labelled with the layers they run.
    """
    n_ops = len(ops)
    groups = {g["op"]: g for g in fused_groups or []}
    ops = timeline_labels(ops, fused_groups, upsample_mul_groups)
    fig = Figure(figsize=(_width(n_ops + 2), 5.2))
    ax = fig.add_subplot()
    colours = matplotlib.colormaps["tab20"]
    rings = 0
    for i, buf in enumerate(sorted(buffers, key=lambda b: (b["first"], b["offset"]))):
        start, end = max(buf["first"], -1) - 0.45, min(buf["last"], n_ops) + 0.45
        # Tiny buffers (a classifier's logits) get a minimum height so they stay visible.
        height = max(buf["size"], 0.012 * max(arena_bytes, 1))
        group = groups.get(buf["first"]) if buf["buffer"] == f"scratch{buf['first']}" else None
        if group is not None:       # a fused op's scratch: its ring of band rows, not a tensor
            rings += 1
            ax.add_patch(Rectangle((start, buf["offset"]), end - start, height, facecolor="white",
                                   edgecolor=WORST, linewidth=0.8, hatch="...", alpha=0.9))
            if buf["size"] >= 0.04 * max(arena_bytes, 1):
                ax.text(end + 0.1, buf["offset"] + height / 2, f"ring: {group['band_rows']}-row bands, {buf['size']:,} B",
                        ha="left", va="center", fontsize=6, color=WORST)
            continue
        ax.add_patch(Rectangle((start, buf["offset"]), end - start, height, facecolor=colours(i % 20),
                               edgecolor="black", linewidth=0.5, alpha=0.85))
        if buf["size"] >= 0.06 * max(arena_bytes, 1) and end - start >= 0.9:
            ax.text((start + end) / 2, buf["offset"] + buf["size"] / 2, f"{buf['buffer']}\n{buf['size']:,} B",
                    ha="center", va="center", fontsize=7)
        elif buf["size"] >= 0.025 * max(arena_bytes, 1) and end - start >= 4:     # a long-lived skip tensor
            ax.text((start + end) / 2, buf["offset"] + height / 2, f"{buf['buffer']}  {buf['size']:,} B",
                    ha="center", va="center", fontsize=6)
    # Buffers alive together share bytes only where an output is written over the input its
    # op reads for the last time (plan/arena.py): hatch those bytes during that op.
    shared = 0
    for a, b in itertools.combinations(buffers, 2):
        first, last = max(a["first"], b["first"]), min(a["last"], b["last"])
        low = max(a["offset"], b["offset"])
        high = min(a["offset"] + a["size"], b["offset"] + b["size"])
        if first <= last and low < high:
            ax.add_patch(Rectangle((first - 0.45, low), last - first + 0.9, high - low, fill=False, hatch="///",
                                   edgecolor="black", linewidth=0.8))
            shared += 1
    peak = max(timeline, key=lambda t: t["bytes_live"]) if timeline else None
    if peak is not None:
        ax.axvspan(peak["op"] - 0.5, peak["op"] + 0.5, color=WORST, alpha=0.12, zorder=0)
        also = sum(1 for t in timeline if t["bytes_live"] == peak["bytes_live"]) - 1
        ax.annotate(f"peak: {peak['bytes_live']:,} B live during op {op_label(peak['op'], ops[peak['op']])}"
                    + (f" (and {also} later op{'s' if also > 1 else ''})" if also else ""),
                    xy=(peak["op"], arena_bytes), xytext=(0.01, 1.02), textcoords="axes fraction",
                    color=WORST, fontsize=9, arrowprops={"arrowstyle": "->", "color": WORST})
    ax.axhline(arena_bytes, color="black", linestyle="--", linewidth=1)
    ax.text(n_ops + 0.4, arena_bytes, f" arena {arena_bytes:,} B", va="bottom", ha="right", fontsize=8)
    _op_axis(ax, ["input"] + [op_label(i, op) for i, op in enumerate(ops)] + ["output"], list(range(-1, n_ops + 1)))
    ax.set_ylim(0, max(arena_bytes, 1) * 1.08)
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_ylabel("arena offset (bytes)")
    ax.set_xlabel("op (execution order)")
    ax.set_title("Arena timeline: each box is one buffer, over the ops it is live for"
                 + ("\n(hatched: an op's output written over the input it reads for the last time)" if shared else "")
                 + (f"\n(dotted red: the band ring buffers of {rings} fused op{'s' if rings > 1 else ''}, each one "
                    "x position running the layers in [ ])" if rings else ""),
                 pad=22)
    return _png(fig)


def layer_instructions(layers: list[dict], unit: str, total: int | None = None) -> bytes:
    """Per-layer count (instructions or cycles) and count per MAC. layers: {index, op, count, macs};
    total: the whole inference's count (the layers' sum when None)."""
    labels = [op_label(l["index"], l["op"]) for l in layers]
    counts = [l["count"] for l in layers]
    per_mac = [l["count"] / l["macs"] if l.get("macs") else float("nan") for l in layers]
    fig = Figure(figsize=(_width(len(layers)), 6.4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    bars = top.bar(range(len(layers)), counts, color=MAIN)
    total = total or sum(counts) or 1
    for bar, count in zip(bars, counts):
        if count >= 0.08 * max(counts):
            top.text(bar.get_x() + bar.get_width() / 2, count, f"{100 * count / total:.0f}%",
                     ha="center", va="bottom", fontsize=7)
    top.yaxis.set_major_formatter(FuncFormatter(_thousands))
    top.set_ylabel(f"{unit} per layer")
    top.set_title(f"Where the time goes: {total:,} {unit} in all (labels: share of total)")
    bottom.bar(range(len(layers)), per_mac, color=SECOND)
    for i, value in enumerate(per_mac):
        if value != value:      # NaN: no MACs (pooling, reshape, ...)
            bottom.text(i, 0, "no MACs", rotation=90, ha="center", va="bottom", fontsize=7, color=SECOND)
    bottom.set_ylabel(f"{unit} per MAC")
    bottom.set_xlabel("op (execution order)")
    _op_axis(bottom, labels)
    return _png(fig)


def weights_per_layer(layers: list[dict]) -> bytes:
    """Constant bytes (weights, biases) each op reads from flash. layers: {index, op, weight_bytes}."""
    labels = [op_label(l["index"], l["op"]) for l in layers]
    values = [l["weight_bytes"] for l in layers]
    fig = Figure(figsize=(_width(len(layers)), 4.4))
    ax = fig.add_subplot()
    ax.bar(range(len(layers)), values, color=MAIN)
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_ylabel("weights + biases (bytes)")
    ax.set_xlabel("op (execution order)")
    ax.set_title(f"Weights per layer: {sum(values):,} bytes in all")
    _op_axis(ax, labels)
    return _png(fig)


def layer_error(rows: list[dict]) -> bytes:
    """Per-layer SQNR (dB; higher is better) and the SQNR each layer loses; the worst layer in red."""
    labels = [op_label(r["index"], r["op"]) for r in rows]
    fig = Figure(figsize=(_width(len(rows)), 5.4))
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = range(len(rows))
    channel = [r["channel_sqnr_db"] if r["channel_sqnr_db"] is not None else float("nan") for r in rows]
    tensor = [r["sqnr_db"] if r["sqnr_db"] is not None else float("nan") for r in rows]
    top.plot(x, channel, marker="o", color=MAIN, label="per-channel SQNR (mean over channels)")
    top.plot(x, tensor, marker=".", linestyle=":", color=SECOND, label="whole-tensor SQNR")
    top.set_ylabel("SQNR of output (dB)")
    top.legend(fontsize=8, loc="best")
    top.set_title("Per-layer quantization error, int8 vs float (higher SQNR is better)")
    losses = [r["loss_db"] if r["loss_db"] is not None else 0.0 for r in rows]
    colours = [WORST if r.get("worst") or r.get("flagged") else SECOND for r in rows]
    bottom.bar(x, losses, color=colours)
    for i, r in enumerate(rows):
        if r.get("worst"):
            bottom.text(i, losses[i], " worst", color=WORST, ha="center", va="bottom", fontsize=8, fontweight="bold")
    bottom.set_ylabel("SQNR lost here (dB)")
    bottom.set_xlabel("op (execution order)")
    bottom.set_ylim(0, max(losses + [1.0]) * 1.2)
    _op_axis(bottom, labels)
    return _png(fig)


def board_fit(fit: dict) -> bytes:
    """Flash and RAM used (stacked by part) against the board's capacity.

    fit: {board, flash: {capacity, parts: {name: bytes}}, ram: {capacity, parts: {name: bytes}}}.
    """
    fig = Figure(figsize=(9, 3.2))
    axes = fig.subplots(2, 1)
    for ax, key, title in zip(axes, ("flash", "ram"), ("Flash", "RAM")):
        memory = fit[key]
        capacity = memory["capacity"]
        used = sum(memory["parts"].values())
        scale = 1024.0
        ax.barh([0], [capacity / scale], color="#ecf0f1", edgecolor="black", height=0.6)
        left = 0.0
        colours = matplotlib.colormaps["Set2"]
        for i, (name, size) in enumerate(memory["parts"].items()):
            ax.barh([0], [size / scale], left=left, color=colours(i), height=0.6, label=f"{name} {size:,} B")
            left += size / scale
        share = 100.0 * used / capacity if capacity else 0.0
        verdict = "fits" if used <= capacity else "DOES NOT FIT"
        ax.set_title(f"{title}: {used:,} of {capacity:,} bytes ({share:.1f}%), {verdict}", fontsize=10,
                     loc="left", color="black" if used <= capacity else WORST)
        ax.set_yticks([])
        ax.set_xlim(0, max(capacity, used) / scale * 1.02)
        ax.set_xlabel("KiB")
        ax.legend(fontsize=8, loc="center right", framealpha=0.9)
    fig.suptitle(f"Fit on {fit['board']}", fontsize=11)
    fig.tight_layout()
    return _png(fig)
