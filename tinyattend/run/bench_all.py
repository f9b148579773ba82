"""`make bench`: every MLPerf Tiny reference model and the zoo's demo model on the
emulated Cortex-M3, M4, M7, M33 and M55, with each kernel set, against the TFLM + CMSIS-NN
baseline measured on the same emulator. Writes bench-out/bench.md and bench.json.

Counts are instructions from QEMU with -icount shift=0 (deterministic), not cycles.
A figure is reported only when the board's output equals TFLM's bit for bit.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from ..resources import demo_model_file, source_checkout
from ..boards import load_board
from ..pipeline import write_project
from .bench import bench
from .linker_map import kept_sections

# make bench runs in a source checkout; the MLPerf Tiny models sit beside it (../shared/models).
REPO_ROOT = source_checkout() or Path.cwd()
SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"
MODELS = {
    "pretrainedResnet_quant": SHARED_MODELS / "pretrainedResnet_quant.tflite",
    "vww_96_int8": SHARED_MODELS / "vww_96_int8.tflite",
    "kws_ref_model": SHARED_MODELS / "kws_ref_model.tflite",
    "ad01_int8": SHARED_MODELS / "ad01_int8.tflite",
}
BOARDS = ("cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
# The zoo's MCU models (seeded random weights, synthetic calibration: a speed and memory benchmark, not
# an accuracy one). Their baseline is BOARD_BASELINE's when the .tflite is the one measured there; else our
# cmsis-nn kernel set on the same board, which matched TFLM + CMSIS-NN within 0.1% on every MLPerf model above
# (but ran 5-18% fewer instructions than TFLM on the M7 on the zoo's models).
OTHER_GOALS = ("size", "speed")
ZOO_MODELS = ("attendnext-micro", "attendnets-micro", "lowformer-micro")

# TFLM (tensorflow/tflite-micro 90b983c2) + CMSIS-NN (4ab83cc3), built by TFLM's Makefile,
# one timed Invoke after a warm-up, QEMU -icount shift=0 (measured figures from issue 7).
# instructions per board, arena bytes used, runtime code flash in bytes (TFLM core + kernels + CMSIS-NN).
BASELINE = {
    "pretrainedResnet_quant": {"cortex-m7": 30_026_200, "cortex-m4": 29_863_360, "cortex-m55": 4_911_719,
                               "arena": 54_996, "code": 71_500},
    "vww_96_int8": {"cortex-m7": 24_025_600, "cortex-m4": 24_102_000, "cortex-m55": 6_558_344,
                    "arena": 100_708, "code": 76_700},
    "kws_ref_model": {"cortex-m7": 7_645_720, "cortex-m4": 7_699_880, "cortex-m55": 1_815_812,
                      "arena": 22_820, "code": 76_700},
    "ad01_int8": {"cortex-m7": 583_240, "cortex-m4": 582_960, "cortex-m55": 150_000,
                  "arena": 2_580, "code": 26_600},
}

# Boards whose baseline was measured with tinyattend.run.tflm_baseline on the board itself (issue 20): per
# model its instructions, TFLM's arena and runtime code on that core (not the M7's, as BASELINE's are), and
# the sha256 of the .tflite measured (the MLPerf files in ../shared/models; the demo as make bench converts it).
BOARD_BASELINE_SOURCE = {board: f"TFLM + CMSIS-NN on the {board[7:].upper()} (measured 2026-12-07, "
                                f"tinyattend tflm-baseline MODEL.tflite --board {board})"
                         for board in ("cortex-m33", "cortex-m55", "cortex-m7", "cortex-m4")}
BOARD_BASELINE: dict[str, dict[str, dict]] = {
    "cortex-m33": {
        "ad01_int8": {"sha256": "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24",
                     "instructions": 583_400, "arena": 2_580, "code": 27_231},
        "kws_ref_model": {"sha256": "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae",
                         "instructions": 7_680_200, "arena": 22_820, "code": 77_237},
        "pretrainedResnet_quant": {"sha256": "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415",
                                  "instructions": 29_962_100, "arena": 54_996, "code": 71_843},
        "vww_96_int8": {"sha256": "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b",
                       "instructions": 24_046_750, "arena": 100_708, "code": 77_237},
        "attendnext_digits": {"sha256": "f6d9f4b462c014e3ff9c1433203cc529c60f7b8abf6bd290d681de937f7e5613",
                             "instructions": 6_533_600, "arena": 52_420, "code": 102_945},
        # the zoo's MCU models as make bench converts them (seeded random weights; the direct front end)
        "attendnext-micro": {"sha256": "c4eeb76241e31f239deb35df1a1c44bb8835a1a98753857a5b0923e1ed27e5c7",
                             "instructions": 153_820_200, "arena": 500_788, "code": 102_945},
        "attendnets-micro": {"sha256": "889e5e821d819a216a4eeff8add19e34e4b15b4815e373315405f334a8f11ec4",
                             "instructions": 163_903_000, "arena": 486_564, "code": 102_355},
        "lowformer-micro": {"sha256": "4af433cc4609385f9793ccf8acf8aaf0906a3624176535867b25527c59e8803c",
                            "instructions": 172_020_850, "arena": 229_444, "code": 129_540},
    },
    # TARGET_ARCH=cortex-m55: CMSIS-NN's MVE kernels. The MLPerf models within 0.12% of BASELINE's M55
    # instructions (AD exactly); the arenas are the M55's own, as issue 16 gives them.
    "cortex-m55": {
        "pretrainedResnet_quant": {"sha256": "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415",
                                   "instructions": 4_911_125, "arena": 55_028, "code": 60_967},
        "vww_96_int8": {"sha256": "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b",
                        "instructions": 6_558_312, "arena": 100_772, "code": 67_097},
        "ad01_int8": {"sha256": "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24",
                      "instructions": 150_000, "arena": 9_268, "code": 21_969},
        "kws_ref_model": {"sha256": "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae",
                          "instructions": 1_813_719, "arena": 27_348, "code": 67_097},
        "attendnext_digits": {"sha256": "f6d9f4b462c014e3ff9c1433203cc529c60f7b8abf6bd290d681de937f7e5613",
                              "instructions": 2_044_719, "arena": 52_532, "code": 90_747},
        "attendnext-micro": {"sha256": "c4eeb76241e31f239deb35df1a1c44bb8835a1a98753857a5b0923e1ed27e5c7",
                             "instructions": 41_612_094, "arena": 504_932, "code": 90_747},
        "attendnets-micro": {"sha256": "889e5e821d819a216a4eeff8add19e34e4b15b4815e373315405f334a8f11ec4",
                             "instructions": 56_119_312, "arena": 486_868, "code": 90_131},
        "lowformer-micro": {"sha256": "cca7489e51a888640e5d79ad294b708fa0da743254dd0d7c3298fa8b7ab86068",
                            "instructions": 53_997_938, "arena": 233_508, "code": 119_240},
    },
    # The same build reproduces BASELINE's ad01_int8 exactly on the M7 (583,240; 2,580; 26,569).
    "cortex-m7": {
        "attendnext_digits": {"sha256": "f6d9f4b462c014e3ff9c1433203cc529c60f7b8abf6bd290d681de937f7e5613",
                              "instructions": 6_613_520, "arena": 52_420, "code": 102_071},
        "attendnext-micro": {"sha256": "c4eeb76241e31f239deb35df1a1c44bb8835a1a98753857a5b0923e1ed27e5c7",
                             "instructions": 154_595_680, "arena": 500_788, "code": 102_071},
        "attendnets-micro": {"sha256": "889e5e821d819a216a4eeff8add19e34e4b15b4815e373315405f334a8f11ec4",
                             "instructions": 168_208_400, "arena": 486_564, "code": 101_469},
        "lowformer-micro": {"sha256": "cca7489e51a888640e5d79ad294b708fa0da743254dd0d7c3298fa8b7ab86068",
                            "instructions": 176_119_000, "arena": 229_444, "code": 128_812},
    },
    # ad01_int8 on the M4 with this build: 582,920 instructions (BASELINE: 582,960), 2,580 B, 26,575 B.
    "cortex-m4": {
        "attendnext_digits": {"sha256": "f6d9f4b462c014e3ff9c1433203cc529c60f7b8abf6bd290d681de937f7e5613",
                              "instructions": 6_581_840, "arena": 52_420, "code": 102_029},
        "attendnext-micro": {"sha256": "c4eeb76241e31f239deb35df1a1c44bb8835a1a98753857a5b0923e1ed27e5c7",
                             "instructions": 154_748_080, "arena": 500_788, "code": 102_029},
        "attendnets-micro": {"sha256": "889e5e821d819a216a4eeff8add19e34e4b15b4815e373315405f334a8f11ec4",
                             "instructions": 164_844_480, "arena": 486_564, "code": 101_435},
        "lowformer-micro": {"sha256": "cca7489e51a888640e5d79ad294b708fa0da743254dd0d7c3298fa8b7ab86068",
                            "instructions": 172_008_080, "arena": 229_444, "code": 128_712},
    },
}


def kernel_sets() -> list[str]:
    sets = ["portable", "fast"]
    if os.environ.get("CMSIS_NN_PATH"):
        sets.append("cmsis-nn")
    return sets


def code_and_const_bytes(firmware: Path) -> tuple[int, int]:
    """Runtime code (generated model.c, without the benchmark's timing hooks, + kernels) and constant data
    (model_data): what the linker kept
    (its map; --gc-sections drops unused functions, such as the fast MUL's other shift entry points),
    else the objects' sizes."""
    linked = _linked_bytes(firmware / "build" / "firmware.map")
    if linked is not None:
        return linked[0] - _profiling_hook_bytes(firmware), linked[1]
    code = const = 0
    for obj in sorted((firmware / "build").rglob("*.o")):
        if obj.parent.name != "model" and "cmsis" not in str(obj.parent).lower():
            continue   # the benchmark harness (main, startup) is not part of the runtime
        out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True, text=True).stdout
        text = sum(int(line.split()[1]) for line in out.splitlines()
                   if line.startswith((".text", ".rodata")) and len(line.split()) >= 2)
        if obj.stem == "model_data":
            const += text
        else:
            code += text
    return code, const


def _profiling_hook_bytes(firmware: Path) -> int:
    """What -DTA_PROFILE adds to model.c: the benchmark's per-layer timing calls, which a deployed build
    leaves out. Measured by compiling model.c with the project's flags with and without it."""
    cflags = subprocess.run(["make", "-s", "-C", str(firmware), "print-cflags"], capture_output=True, text=True,
                            check=True).stdout.split()
    sizes = []
    with tempfile.TemporaryDirectory() as tmp:
        for profile in (True, False):
            flags = [f for f in cflags if profile or f != "-DTA_PROFILE"]
            obj = Path(tmp) / f"model{int(profile)}.o"
            subprocess.run(["arm-none-eabi-gcc", *flags, "-c", "model/model.c", "-o", str(obj)], cwd=firmware,
                           check=True, capture_output=True)
            out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True, text=True).stdout
            sizes.append(sum(int(line.split()[1]) for line in out.splitlines()
                             if line.startswith((".text", ".rodata")) and len(line.split()) >= 2))
    return sizes[0] - sizes[1]


def _linked_bytes(map_file: Path) -> tuple[int, int] | None:
    """(code, const) from a GNU ld map: the .text and .rodata input sections the link kept from the
    runtime's objects (build/model/*, CMSIS-NN's), model_data's counted as constants."""
    if not map_file.is_file():
        return None
    sections = kept_sections(map_file.read_text(errors="replace"))
    if sections is None:
        return None
    code = const = 0
    for name, size, obj in sections:
        where = Path(obj)
        if not name.startswith((".text", ".rodata")) or (where.parent.name != "model"
                                                          and "cmsis" not in obj.lower()):
            continue
        if where.stem == "model_data":
            const += size
        else:
            code += size
    return code, const


def firmware_dir(root: Path, row: dict) -> Path:
    optimize = row.get("optimize", "balanced")
    return root / row["model"] / (f"{row['board']}-{row['kernels']}" + ("" if optimize == "balanced" else f"-{optimize}")) \
        / "firmware"


def run_one(name: str, tflite: Path, board_name: str, kernels: str, root: Path, optimize: str = "balanced") -> dict:
    board = load_board(board_name)
    out = firmware_dir(root, {"model": name, "board": board_name, "kernels": kernels, "optimize": optimize}).parent
    out.mkdir(parents=True, exist_ok=True)
    report = write_project(out, tflite.read_bytes(), board, kernels=kernels, optimize=optimize, model_name=name,
                           measure_tflm_arena=False)
    result = bench(out, board, timeout=600)
    result["arena_unfused_bytes"] = report.get("arena_unfused_bytes")     # the plan without fusion (issue 17)
    code, const = code_and_const_bytes(out / "firmware")
    # The row is named by the set asked for; `auto` may have taken another (helium on Helium cores).
    result.update({"kernels": kernels, "kernels_used": result["kernels"]})
    result.update({"runtime_code_bytes": code, "const_bytes": const, "tflite_bytes": tflite.stat().st_size,
                   "optimize": optimize, "commit": source_commit()})
    return result


def cmsis_nn_proxy(rows: list[dict], name: str, board: str, root: Path) -> dict | None:
    """Baseline figures for a model TFLM was not run on: instructions and runtime code of our cmsis-nn
    run on the same board, and the activation part of the arena TFLM's interpreter allocates for it."""
    arena_file = root / f"{name}.tflm_arena.json"
    for r in rows:
        if r["model"] == name and r["board"] == board and r["kernels"] == "cmsis-nn" and r["bit_exact"]:
            # The activation part (head) only: TFLM's persistent tail is 64-bit on the host and would flatter us.
            arena = json.loads(arena_file.read_text())["tflm_arena_head"] if arena_file.is_file() else None
            return {board: r["instructions"], "arena": arena or r["arena_bytes"], "code": r["runtime_code_bytes"],
                    "proxy": True}
    return None


def board_baseline(name: str, board: str, tflite: Path) -> dict | None:
    """BOARD_BASELINE's measurement of `name` on `board` (instructions, arena, code of that core), if `tflite`
    is the very file it was measured on."""
    base = BOARD_BASELINE.get(board, {}).get(name)
    if (base is None or not tflite.is_file()
            or hashlib.sha256(tflite.read_bytes()).hexdigest() != base["sha256"]):
        return None
    return {board: base["instructions"], "arena": base["arena"], "code": base["code"],
            "source": BOARD_BASELINE_SOURCE[board]}


def source_commit() -> str:
    """The tinyattend commit a row was measured with ('+dirty' with uncommitted changes), or 'unknown'."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty=+dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        head = ""
    return head or "unknown"


def ratios(result: dict, name: str, base: dict | None = None) -> dict:
    base = base or BASELINE.get(name)
    if not base or not result["bit_exact"]:
        return {}
    board = result["board"]
    ours_flash = result["runtime_code_bytes"] + result["const_bytes"]
    return {
        "instructions_ratio": round(result["instructions"] / base[board], 3) if board in base else None,
        "ram_ratio": round(result["peak_ram_bytes"] / base["arena"], 3),
        "flash_ratio": round(ours_flash / (base["code"] + result["tflite_bytes"]), 3),
        "code_ratio": round(result["runtime_code_bytes"] / base["code"], 3),
        "baseline_arena": base["arena"],
        "baseline": "cmsis-nn kernel set (proxy)" if base.get("proxy") else base.get("source", "TFLM + CMSIS-NN (issue 7)"),
        "baseline_instructions": base.get(board),
    }


def markdown(rows: list[dict]) -> str:
    lines = ["# tinyattend benchmark (make bench)", "",
             "Instructions are counted by QEMU with `-icount shift=0` (deterministic instruction counts, not cycles);",
             "one timed inference after a warm-up, fixed pseudo-random input. Baseline: TFLM + CMSIS-NN on the same",
             "emulator (issue 7). Peak RAM = our arena (activations + every scratch buffer) + stack high-water mark;",
             "the baseline's is TFLM's arena alone. Flash = runtime code (model.c without the per-layer timing hooks",
             "+ kernels; no harness) + constant data;",
             "the baseline's is its runtime code + the .tflite file. A row appears only if the output equals TFLM's.",
             "Zoo MCU models (seeded random weights) not measured with TFLM: their baseline (marked *) is our",
             "cmsis-nn kernel set on the same board (it matched TFLM + CMSIS-NN within 0.1% above), and for RAM the",
             "activation part of the arena TFLM's interpreter allocates for the model (its persistent part left out).",
             "A baseline marked + is measured on that board instead, used only for the .tflite it was measured on",
             "(sha256); its arena and code are that core's own:",
             *[f"{board} rows marked +: {source}."
               for board, source in BOARD_BASELINE_SOURCE.items() if BOARD_BASELINE.get(board)],
             "The Cortex-M3 (no DSP) has no TFLM measurement: its rows are compared with nothing, or with the M3's",
             "own cmsis-nn set (*) for the demo.", "",
             "| model | board | kernels | optimize | instructions | baseline | ratio | peak RAM | RAM ratio | code | const | flash ratio | code ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["bit_exact"]:
            lines.append(f"| {r['model']} | {r['board']} | {r['kernels']} | {r.get('optimize', 'balanced')} | "
                         "output differs from TFLM: not reported | | | | | | | | |")
            continue
        q = r.get("ratios", {})
        base = q.get("baseline_instructions")
        head = f"| {r['model']} | {r['board']} | {r['kernels']} | {r.get('optimize', 'balanced')} | "
        lines.append(head + f"{r['instructions']:,} | "
                     f"{base:,}{'*' if 'proxy' in q.get('baseline', '') else '+' if 'measured' in q.get('baseline', '') else ''} | {q.get('instructions_ratio')} | {r['peak_ram_bytes']:,} | {q.get('ram_ratio')} | "
                     f"{r['runtime_code_bytes']:,} | {r['const_bytes']:,} | {q.get('flash_ratio')} | {q.get('code_ratio')} |"
                     if base else
                     head + f"{r['instructions']:,} | | | "
                     f"{r['peak_ram_bytes']:,} | | {r['runtime_code_bytes']:,} | {r['const_bytes']:,} | | |")
    fused = [r for r in rows if r["bit_exact"] and r.get("arena_unfused_bytes")
             and r["arena_unfused_bytes"] != r["arena_bytes"]]
    if fused:
        lines += ["", "Fusion (issue 17: expansion + depthwise + projection + residual ADD in bands, depthwise layers",
                  "in bands, the attention condensers' upsampling fused into their MUL): the arena planned without",
                  "it and with it, and peak RAM before and after (before = the unfused arena + this run's stack",
                  "high-water, not a separate run; RAM ratio against the baseline's arena as above).", "",
                  "| model | board | kernels | arena unfused | arena | ratio | peak RAM unfused | peak RAM | "
                  "RAM ratio unfused -> fused |", "|---|---|---|---|---|---|---|---|---|"]
        for r in fused:
            before = r["arena_unfused_bytes"] + r["stack_bytes"]
            base = r.get("ratios", {}).get("baseline_arena")
            ram = f"{before / base:.3f} -> {r['peak_ram_bytes'] / base:.3f}" if base else ""
            goal = r.get("optimize", "balanced")
            kernels = r["kernels"] + ("" if goal == "balanced" else f" ({goal})")    # the M7's auto rows differ by it
            lines.append(f"| {r['model']} | {r['board']} | {kernels} | {r['arena_unfused_bytes']:,} | "
                         f"{r['arena_bytes']:,} | {r['arena_bytes'] / r['arena_unfused_bytes']:.2f} | {before:,} | "
                         f"{r['peak_ram_bytes']:,} | {ram} |")
    commits = sorted({r.get("commit", "unknown") for r in rows})
    lines += ["", f"Measured at tinyattend commit{'s' if len(commits) > 1 else ''} {', '.join(commits)}."]
    return "\n".join(lines) + "\n"


def zoo_models(root: Path) -> dict[str, Path]:
    """Export and convert the zoo's MCU models once (cached under root); {} without torch."""
    try:
        import torch
    except ImportError:
        print("bench: torch is not installed: the zoo's MCU models are skipped (pip install torch==2.13.0)")
        return {}
    from ..convert import convert_model
    from ..zoo.export import export_zoo_model
    models = {}
    for name in ZOO_MODELS:
        tflite = root / f"{name}.tflite"
        if not tflite.is_file():
            print(f"bench: exporting and converting {name} (seeded random weights)", flush=True)
            torch.manual_seed(0)
            onnx = export_zoo_model(name, root / f"{name}.onnx")
            tflite.write_bytes(convert_model(onnx, progress=False).tflite)
        arena_file = root / f"{name}.tflm_arena.json"
        if not arena_file.is_file():
            from ..verify import tflm_arena
            arena_file.write_text(json.dumps(tflm_arena(tflite.read_bytes())) + "\n")
        models[name] = tflite
    return models


def bench_all_command(args) -> int:
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    models = {name: path for name, path in MODELS.items() if path.is_file()}
    demo = root / "attendnext_digits.tflite"
    if not demo.is_file():
        from ..convert import convert_model
        conversion = convert_model(demo_model_file("attendnext_digits.onnx"),
                                   calib=str(demo_model_file("attendnext_digits_calib.npy")))
        demo.write_bytes(conversion.tflite)
    models["attendnext_digits"] = demo
    if not args.models or set(args.models) & set(ZOO_MODELS):
        models.update(zoo_models(root))
    # Every kernel set with --optimize balanced on every board (the zoo's MCU models: every set on the M7,
    # `auto` on the others: they take long); on the M7 also what `auto` makes of --optimize size and
    # speed, to show the trade.
    jobs = [(m, b, k, "balanced") for m in models for b in BOARDS for k in kernel_sets()
            if m not in ZOO_MODELS or b == "cortex-m7"]
    jobs += [(m, b, "auto", "balanced") for m in models for b in BOARDS if b != "cortex-m7" and m in ZOO_MODELS]
    jobs += [(m, "cortex-m7", "auto", goal) for m in models for goal in OTHER_GOALS if m not in ZOO_MODELS]
    # On the Helium core our MVE set side by side with CMSIS-NN's, portable and the DSP fast set; `auto` takes
    # the MVE set there (pipeline.resolve_kernels).
    jobs += [(m, "cortex-m55", k, "balanced") for m in models for k in ("helium", "auto") if m not in ZOO_MODELS]
    jobs = list(dict.fromkeys(jobs))
    jobs = [job for job in jobs if (not args.models or job[0] in args.models)
            and (not args.boards or job[1] in args.boards) and (not args.kernel_sets or job[2] in args.kernel_sets)]
    # Rows of an earlier run that this one does not redo are kept, so a table can be refreshed in parts.
    redo = {job for job in jobs}
    previous = json.loads((root / "bench.json").read_text()) if (root / "bench.json").is_file() else []
    rows = [r for r in previous if (r["model"], r["board"], r["kernels"], r.get("optimize", "balanced")) not in redo]
    started = time.monotonic()
    for i, (name, board, kernels, optimize) in enumerate(jobs, 1):
        print(f"[bench {i}/{len(jobs)} {time.monotonic() - started:5.0f}s] {name} on {board}, kernels {kernels}, "
              f"--optimize {optimize}", flush=True)
        result = run_one(name, models[name], board, kernels, root, optimize)
        rows.append(result)
        (root / "bench.json").write_text(json.dumps(rows, indent=1) + "\n")
    rows.sort(key=lambda r: (list(models).index(r["model"]) if r["model"] in models else len(models),
                             BOARDS.index(r["board"]) if r["board"] in BOARDS else 0, r.get("optimize", "balanced"),
                             r["kernels"]))
    for result in rows:       # sizes of kept rows measured again the same way as the new ones
        firmware = firmware_dir(root, result)
        if (firmware / "build" / "firmware.map").is_file():
            result["runtime_code_bytes"], result["const_bytes"] = code_and_const_bytes(firmware)
    for result in rows:
        name = result["model"]
        tflite = models.get(name, root / f"{name}.tflite")
        result["ratios"] = ratios(result, name, board_baseline(name, result["board"], tflite)
                                  or (None if name in BASELINE else cmsis_nn_proxy(rows, name, result["board"], root)))
    (root / "bench.json").write_text(json.dumps(rows, indent=1) + "\n")
    (root / "bench.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0 if all(r["bit_exact"] for r in rows) else 1
