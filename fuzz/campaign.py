"""`make fuzz`: the long campaign. `python -m fuzz.campaign --tflite 2000 --onnx 500 --hostile -o fuzz-out`.

Writes fuzz-out/outcomes.jsonl (one line per case, as it runs), fuzz-out/table.md (outcomes per class)
and, for every bad outcome, the input under fuzz-out/failures/ (to make a regression test of).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

from .oracle import BAD, OUTCOMES, Case, Outcome, run_case
from .tflite_mutations import Seeds

# Limits per case: a normal .tflite convert takes 1-3 s and ~100 MiB; an ONNX one 30-60 s and ~1 GiB.
TFLITE_LIMITS = {"timeout": 60.0, "memory_mib": 2048}
ONNX_LIMITS = {"timeout": 300.0, "memory_mib": 4096}


def generate(strategy, count: int, rng_seed: int, max_tries: int | None = None) -> list[tuple[str, bytes, str]]:
    """`count` distinct inputs drawn from a Hypothesis strategy, reproducibly from `rng_seed`."""
    found: dict[str, tuple[str, bytes, str]] = {}

    class Enough(Exception):
        pass

    @seed(rng_seed)
    @settings(max_examples=max_tries or count * 4, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(strategy)
    def draw(example):
        found.setdefault(hashlib.sha256(example[1]).hexdigest(), example)
        if len(found) >= count:
            raise Enough()           # stops Hypothesis: the rest of max_examples would be drawn for nothing

    try:
        draw()
    except Enough:
        pass
    return list(found.values())[:count]


def tflite_cases(count: int, rng_seed: int, seeds: dict[str, bytes], verbs=("convert",)) -> list[Case]:
    from .tflite_mutations import mutated_tflite
    cases = []
    for i, (seed_name, data, how) in enumerate(generate(mutated_tflite(Seeds(seeds)), count, rng_seed)):
        verb = verbs[i % len(verbs)]
        argv = ("convert", "model.tflite", "--board", "host", "-o", "OUT") if verb == "convert" else \
            ("inspect", "model.tflite")
        cases.append(Case(f"tflite-{i:05d} {verb} {seed_name}: {how}"[:400], "tflite", argv,
                          files=(("model.tflite", data),)))
    return cases


def onnx_cases(count: int, rng_seed: int, seeds: dict[str, bytes], verbs=("convert",)) -> list[Case]:
    from .onnx_mutations import mutated_onnx
    cases = []
    for i, (seed_name, data, how) in enumerate(generate(mutated_onnx(Seeds(seeds)), count, rng_seed)):
        verb = verbs[i % len(verbs)]
        argv = ("convert", "model.onnx", "--board", "host", "-o", "OUT") if verb == "convert" else \
            ("inspect", "model.onnx")
        cases.append(Case(f"onnx-{i:05d} {verb} {seed_name}: {how}"[:400], "onnx", argv,
                          files=(("model.onnx", data),)))
    return cases


def run_all(cases: list[Case], workdir: Path, log_path: Path | None = None, failures: Path | None = None,
            progress: bool = True, verify: bool = True) -> list[Outcome]:
    outcomes = []
    log = log_path.open("a") if log_path else None
    for n, case in enumerate(cases, 1):
        limits = ONNX_LIMITS if any(name.endswith(".onnx") for name, _ in case.files) else TFLITE_LIMITS
        outcome = run_case(case, workdir, verify=verify, **limits)
        outcomes.append(outcome)
        if log:
            log.write(json.dumps(outcome.__dict__) + "\n")
            log.flush()
        if failures is not None and outcome.outcome in BAD:
            keep = failures / f"{len(list(failures.glob('*'))):04d}"
            keep.mkdir(parents=True)
            for name, data in case.files:
                (keep / name.replace("/", "_")).write_bytes(data)
            (keep / "case.json").write_text(json.dumps({"case": case.name, "argv": case.argv,
                                                        "outcome": outcome.__dict__}, indent=2))
        if progress:
            print(f"[{n}/{len(cases)}] {outcome.outcome:13s} {outcome.seconds:6.1f}s {case.name[:110]}",
                  file=sys.stderr, flush=True)
    return outcomes


def replay(failures: Path, out: Path) -> int:
    """Each saved failure (failures/NNNN: its files and case.json) through the current code."""
    cases = []
    for folder in sorted(p for p in failures.iterdir() if (p / "case.json").is_file()):
        saved = json.loads((folder / "case.json").read_text())
        files = tuple((p.name, p.read_bytes()) for p in folder.iterdir() if p.name != "case.json")
        cases.append(Case(f"{folder.name} {saved['case']}"[:400], saved["outcome"]["family"], tuple(saved["argv"]),
                          files=files))
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="replay-", dir=out))
    outcomes = run_all(cases, workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    for outcome in outcomes:
        print(f"{outcome.outcome:13s} {outcome.case[:100]} -- {outcome.detail[:160]}")
    return 1 if any(o.outcome in BAD for o in outcomes) else 0


def table(outcomes: list[Outcome]) -> str:
    families = sorted({o.family for o in outcomes})
    counts = Counter((o.family, o.outcome) for o in outcomes)
    lines = ["| outcome | " + " | ".join(families) + " | total |", "|---" * (len(families) + 2) + "|"]
    for outcome in OUTCOMES:
        row = [counts[(f, outcome)] for f in families]
        lines.append(f"| {outcome} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    totals = [sum(counts[(f, o)] for o in OUTCOMES) for f in families]
    lines.append("| **inputs** | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.campaign", description=__doc__.splitlines()[0])
    parser.add_argument("--tflite", type=int, default=2000, help="mutated .tflite inputs (default 2000)")
    parser.add_argument("--onnx", type=int, default=500, help="mutated ONNX inputs (default 500)")
    parser.add_argument("--hostile", action="store_true", help="also the hand-made hostile cases")
    parser.add_argument("--seed", type=int, default=19, help="Hypothesis seed (default 19)")
    parser.add_argument("--demo-onnx", action="store_true", help="seed ONNX mutations with the demo model too")
    parser.add_argument("-o", "--out", type=Path, default=Path("fuzz-out"))
    parser.add_argument("--replay", type=Path, help="run the saved failures of an earlier campaign (its failures/ "
                                                    "folder) again, with the code as it is now, and exit")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay, args.out)
    from .seeds import onnx_seeds, tflite_seeds
    args.out.mkdir(parents=True, exist_ok=True)
    cases = tflite_cases(args.tflite, args.seed, tflite_seeds(), verbs=("convert", "convert", "convert", "inspect")) \
        if args.tflite else []
    if args.onnx:
        # TensorFlow imported once here, before the children fork, instead of ~10 s in every ONNX child
        from tinyattend.convert.quiet import import_tensorflow, set_quiet_environment
        from tinyattend.progress import SILENT
        set_quiet_environment()
        import_tensorflow(SILENT)
        cases += onnx_cases(args.onnx, args.seed, onnx_seeds(with_demo=args.demo_onnx), verbs=("convert", "inspect"))
    if args.hostile:
        from .hostile import hostile_cases
        cases += hostile_cases()
    workdir = Path(tempfile.mkdtemp(prefix="work-", dir=args.out))
    started = time.monotonic()
    outcomes = run_all(cases, workdir, args.out / "outcomes.jsonl", args.out / "failures")
    shutil.rmtree(workdir, ignore_errors=True)
    text = (f"# tinyattend fuzz campaign (seed {args.seed}, {len(outcomes)} inputs, "
            f"{time.monotonic() - started:.0f} s)\n\n{table(outcomes)}\n")
    bad = [o for o in outcomes if o.outcome in BAD]
    text += "\n## Bad outcomes\n\n" + ("\n".join(f"- {o.outcome}: {o.case[:160]} -- {o.detail[:200]}" for o in bad)
                                       or "none") + "\n"
    (args.out / "table.md").write_text(text)
    print(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
