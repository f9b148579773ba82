"""`tinyattend search`: its arguments, and the call into the API."""
from __future__ import annotations

import argparse
from pathlib import Path


def _instructions(text: str) -> int:
    """An instruction count: 2000000, 2000K or 2M (K = 1000, M = 1000000)."""
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    body, unit = (text[:-1], units[text[-1].upper()]) if text and text[-1].upper() in units else (text, 1)
    try:
        value = int(float(body) * unit)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not an instruction count; write e.g. 2000000 or 2M")
    return value


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"'{text}' is not a positive number")
        return value
    return parse


def add_search_arguments(p: argparse.ArgumentParser, byte_count) -> None:
    p.add_argument("--data", required=True, help="`digits` (sklearn's, the built-in example), a folder with one "
                   "sub-folder of images per class, or an .npz with x (N x H x W x C or N x C x H x W) and y")
    p.add_argument("--board", default="cortex-m7", help="an emulated board profile (default cortex-m7)")
    p.add_argument("--trials", type=_positive(int), default=40, help="trials in the study, finished ones included "
                   "(default 40; the same command with more extends a finished search)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output directory (an existing search's resumes)")
    p.add_argument("--epochs", type=_positive(int), default=20, help="training epochs per candidate (default 20)")
    p.add_argument("--train-seconds", type=_positive(float), default=240.0,
                   help="no epoch starts after this many seconds of a candidate's training (default 240)")
    p.add_argument("--ram", type=byte_count, help="peak RAM limit, arena + stack (e.g. 128K; default the board's)")
    p.add_argument("--flash", type=byte_count, help="flash limit, firmware text + data (e.g. 512K; default the board's)")
    p.add_argument("--max-instructions", type=_instructions, help="instructions per inference limit (e.g. 5M)")
    p.add_argument("--space", type=Path, help="a YAML search space (keys of search/space.py's SearchSpace)")
    p.add_argument("--address", help="join this Ray cluster (ray://HOST:PORT or auto); default: a local one")
    p.add_argument("--storage", help="Optuna storage URL (default sqlite:///OUT/study.db)")
    p.add_argument("--workers", type=int, default=0, help="CPUs of the local Ray cluster (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, default=0.5, help="recommend the fewest instructions within this many "
                   "points of the front's best int8 top-1 (default 0.5)")


def search_command(args: argparse.Namespace) -> int:
    from ..api import search
    summary = search(args.data, board=args.board, trials=args.trials, out=args.out, epochs=args.epochs,
                     train_seconds=args.train_seconds, ram=args.ram, flash=args.flash,
                     max_instructions=args.max_instructions, address=args.address, storage=args.storage,
                     workers=args.workers, space=args.space, seed=args.seed, tolerance=args.tolerance / 100,
                     progress=True)
    print(f"\nresults in {args.out}/: trials.csv, summary.json, front/, pareto.png")
    return 0 if summary.recommended else 1
