"""What a search leaves in OUT, all rebuilt from the Optuna storage (trials.csv after every trial, the rest at
the end of a run or when it is interrupted):

    trials.csv      one row per trial (status complete / rejected / failed, with the reason)
    summary.json    driver, Ray address, trial counts, time split, the Pareto front, the recommended model
    front/          one folder per Pareto-front model: model.onnx, the converted project, trial.json
    pareto.png      int8 top-1 against instructions, peak RAM as colour, the front and the recommendation
    trials/NNNN/    every finished trial's model.onnx, project.tar.gz and result.json

The front: complete, bit-exact trials that no other trial beats on both int8 top-1 (up) and instructions
(down). The recommended model: the front's fewest instructions among those within `tolerance` of its best
int8 top-1.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

FIGURES = ("description", "params", "macs", "instructions", "untrained_instructions", "peak_ram", "arena", "flash",
           "bit_exact", "float_top1", "int8_top1", "epochs", "train_s", "convert_s", "emulate_s", "evaluate_s",
           "total_s", "worker_pid", "worker_node", "worker_host", "status", "reason", "architecture")
CSV_COLUMNS = ("trial", "status", "reason", "architecture", "float_top1", "int8_top1", "instructions", "peak_ram",
               "flash", "arena", "params", "macs", "bit_exact", "epochs", "train_s", "convert_s", "emulate_s",
               "evaluate_s", "total_s", "worker_pid", "worker_node", "worker_host")
NO_FIGURE = 1e12       # a rejected candidate's instructions objective when it never ran


@dataclass(frozen=True)
class SearchSummary:
    out: Path
    trials: tuple[dict, ...]
    front: tuple[dict, ...]
    recommended: dict | None
    summary: dict


def record(study, trial, result: dict, out: Path) -> None:
    """Keep a finished trial: its files under OUT/trials/, its figures as user attributes, its values."""
    from optuna.trial import TrialState
    folder = out / "trials" / f"{trial.number:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    if result.get("onnx"):
        (folder / "model.onnx").write_bytes(result["onnx"])
    if result.get("project"):
        (folder / "project.tar.gz").write_bytes(result["project"])
    kept = {k: result.get(k) for k in FIGURES if result.get(k) is not None}
    (folder / "result.json").write_text(json.dumps({"trial": trial.number, **kept}, indent=1, default=str) + "\n")
    for key, value in kept.items():
        trial.set_user_attr(key, value)
    status = result.get("status", "failed")
    if status == "complete":
        trial.set_constraint("limits", 0.0)
        study.tell(trial, [float(result["int8_top1"]), float(result["instructions"])])
    elif status == "rejected":
        trial.set_constraint("limits", 1.0)
        study.tell(trial, [0.0, float(result.get("instructions") or NO_FIGURE)])
    else:
        study.tell(trial, state=TrialState.FAIL)


def rows(study) -> list[dict]:
    out = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        if "status" not in attrs:
            continue           # still running
        row = {"trial": t.number, **{k: attrs.get(k) for k in FIGURES}}
        row["architecture"] = attrs.get("description") or (json.dumps(attrs["architecture"]) if attrs.get("architecture")
                                                           else "")
        row["spec"] = attrs.get("architecture")
        out.append(row)
    return sorted(out, key=lambda r: r["trial"])


def pareto_front(trial_rows: list[dict]) -> list[dict]:
    ok = [r for r in trial_rows if r["status"] == "complete" and r.get("bit_exact")]
    front = [r for r in ok if not any(_dominates(o, r) for o in ok)]
    return sorted(front, key=lambda r: r["instructions"])


def _dominates(a: dict, b: dict) -> bool:
    return (a["int8_top1"] >= b["int8_top1"] and a["instructions"] <= b["instructions"]
            and (a["int8_top1"] > b["int8_top1"] or a["instructions"] < b["instructions"]))


def recommend(front: list[dict], tolerance: float) -> dict | None:
    if not front:
        return None
    best = max(r["int8_top1"] for r in front)
    return min((r for r in front if r["int8_top1"] >= best - tolerance - 1e-12), key=lambda r: r["instructions"])


def write_all(study, out: Path, settings, dataset, storage: str, *, wall_s: float, driver_pid: int,
              ray_address: str, table) -> SearchSummary:
    trial_rows = rows(study)
    front = pareto_front(trial_rows)
    chosen = recommend(front, settings.tolerance)
    _write_csv(out / "trials.csv", trial_rows)
    _write_front(out, front)
    counts = {s: sum(r["status"] == s for r in trial_rows) for s in ("complete", "rejected", "failed")}
    spent = {k: round(sum(r.get(k) or 0.0 for r in trial_rows), 1) for k in ("train_s", "convert_s", "emulate_s",
                                                                            "evaluate_s", "total_s")}
    summary = {
        "driver_pid": driver_pid, "ray_address": ray_address, "storage": _safe_url(storage),
        "board": settings.board, "data": dataset.describe(), "sampler": "TPE, multi-objective, constraint-aware",
        "objectives": ["int8_top1 (maximize)", "instructions (minimize)"],
        "trials": {"finished": len(trial_rows), **counts}, "wall_s": round(wall_s, 1),
        "trial_seconds": spent, "worker_pids": sorted({r["worker_pid"] for r in trial_rows if r.get("worker_pid")}),
        "front": [_public(r) for r in front], "recommended": _public(chosen) if chosen else None,
        "tolerance": settings.tolerance,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if trial_rows:
        from .plot import plot_pareto
        plot_pareto(trial_rows, front, chosen, out / "pareto.png", settings.board)
    if table is not None:
        table.footer(summary)
    return SearchSummary(out, tuple(trial_rows), tuple(front), chosen, summary)


def _public(row: dict) -> dict:
    return {k: row.get(k) for k in ("trial", "architecture", "float_top1", "int8_top1", "instructions", "peak_ram",
                                    "flash", "params", "macs", "bit_exact")} | {"folder": f"front/trial-{row['trial']:04d}"}


def write_csv(study, out: Path) -> None:
    _write_csv(out / "trials.csv", rows(study))


def _write_csv(path: Path, trial_rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in trial_rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_COLUMNS})
    path.write_text(buffer.getvalue())


def _write_front(out: Path, front: list[dict]) -> None:
    """OUT/front/trial-NNNN per front model, rebuilt: a trial that left the front leaves the folder."""
    folder = out / "front"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for row in front:
        source = out / "trials" / f"{row['trial']:04d}"
        target = folder / f"trial-{row['trial']:04d}"
        target.mkdir()
        if (source / "model.onnx").is_file():
            shutil.copy2(source / "model.onnx", target / "model.onnx")
        if (source / "project.tar.gz").is_file():
            with tarfile.open(source / "project.tar.gz") as tar:
                tar.extractall(target / "project", filter="data")
        (target / "trial.json").write_text(json.dumps(_public(row) | {"spec": row.get("spec")}, indent=1) + "\n")


def _safe_url(url: str) -> str:
    """A storage URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


class ProgressTable:
    """The live table: one row per finished trial on stdout, notes on stderr."""

    COLUMNS = ("trial", "status", "int8", "float", "instructions", "peak RAM", "flash", "train s", "total s",
               "worker", "architecture / reason")

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def note(self, text: str) -> None:
        if self.enabled:
            print(f"[search] {text}", file=sys.stderr, flush=True)

    def header(self, settings, dataset, storage: str, interrupted: int, finished: int) -> None:
        self.note(dataset.describe())
        self.note(f"board {settings.board}; {settings.trials} trials; study {_safe_url(storage)}")
        if finished:
            self.note(f"resuming: {finished} trial(s) already finished"
                      + (f", {interrupted} interrupted trial(s) queued again" if interrupted else ""))
        if self.enabled:
            print(f"{'trial':>5} {'status':<9} {'int8':>6} {'float':>6} {'instructions':>13} {'peak RAM':>9} "
                  f"{'flash':>9} {'train s':>7} {'total s':>7} {'worker':>8}  architecture / reason", flush=True)

    def row(self, r: dict) -> None:
        if not self.enabled:
            return
        pct = lambda v: "" if v is None else f"{100 * v:.1f}%"   # noqa: E731
        num = lambda v: "" if v is None else f"{v:,}"             # noqa: E731
        sec = lambda v: "" if v is None else f"{v:.0f}"           # noqa: E731
        tail = r.get("description", "") if r.get("status") == "complete" else \
            f"{r.get('description', '')}: {r.get('reason', '')}".lstrip(": ")
        print(f"{r['trial']:>5} {r.get('status', ''):<9} {pct(r.get('int8_top1')):>6} {pct(r.get('float_top1')):>6} "
              f"{num(r.get('instructions')):>13} {num(r.get('peak_ram')):>9} {num(r.get('flash')):>9} "
              f"{sec(r.get('train_s')):>7} {sec(r.get('total_s')):>7} {r.get('worker_pid') or '':>8}  {tail[:110]}",
              flush=True)

    def footer(self, summary: dict) -> None:
        if not self.enabled:
            return
        t, spent = summary["trials"], summary["trial_seconds"]
        print(f"\n{t['finished']} trials: {t['complete']} complete, {t['rejected']} rejected, {t['failed']} failed; "
              f"{summary['wall_s']:.0f} s this run. Trial time: training {spent['train_s']:.0f} s, conversion "
              f"{spent['convert_s']:.0f} s, emulation {spent['emulate_s']:.0f} s, scoring {spent['evaluate_s']:.0f} s",
              flush=True)
        print(f"Pareto front ({len(summary['front'])} models, int8 top-1 vs instructions):")
        for r in summary["front"]:
            print(f"  trial {r['trial']:>4}: {100 * r['int8_top1']:.2f}% at {r['instructions']:,} instructions, "
                  f"peak RAM {r['peak_ram']:,} B, flash {r['flash']:,} B  {r['architecture']}")
        rec = summary["recommended"]
        if rec:
            print(f"Recommended: trial {rec['trial']} ({rec['folder']}): {100 * rec['int8_top1']:.2f}% int8 top-1 at "
                  f"{rec['instructions']:,} instructions (the fewest within {100 * summary['tolerance']:.1f} points "
                  f"of the front's best)", flush=True)
        else:
            print("No model completed: see the reasons in trials.csv", flush=True)
