"""The fuzz harness's bounded, seeded slice (issue 19); `make fuzz` runs the long campaign.

Every case runs the real CLI in a forked child with its own TMPDIR and HOME, under time and memory
limits, and is classified by fuzz/oracle.py. A case is a failure when it ends in a crash, a hang, a
blow-up, a traceback (raw, or tinyattend's "internal error"), a write outside OUT, a half-written OUT
or a temporary folder left behind.
"""
from __future__ import annotations

import pytest

from fuzz.campaign import ONNX_LIMITS, TFLITE_LIMITS, onnx_cases, run_all, table, tflite_cases
from fuzz.hostile import found_by_fuzzing, hostile_cases
from fuzz.oracle import BAD, Case, run_case
from fuzz.seeds import onnx_seeds, tflite_seeds

SLICE_SEED = 19
SLICE_TFLITE = 150
SLICE_ONNX = 60


def _bad(outcomes) -> list[str]:
    return [f"{o.outcome}: {o.case[:200]} -- {o.detail[:300]}" for o in outcomes if o.outcome in BAD]


@pytest.mark.slow
def test_fuzz_slice_tflite(tmp_path):
    """150 mutated .tflite models (structural edits and byte damage of the seed corpus), through
    `tinyattend convert` and `tinyattend inspect` in turn: no bad outcome."""
    cases = tflite_cases(SLICE_TFLITE, SLICE_SEED, tflite_seeds(), verbs=("convert", "inspect"))
    assert len(cases) == SLICE_TFLITE
    outcomes = run_all(cases, tmp_path, progress=False, verify=False)
    print(table(outcomes))
    assert not _bad(outcomes), "\n".join(_bad(outcomes))


@pytest.mark.slow
def test_fuzz_slice_onnx_inspect(tmp_path):
    """60 mutated ONNX models through `tinyattend inspect` (cheap: no onnx2tf; the campaign converts them
    too): no bad outcome."""
    cases = onnx_cases(SLICE_ONNX, SLICE_SEED, onnx_seeds(), verbs=("inspect",))
    assert len(cases) == SLICE_ONNX
    outcomes = run_all(cases, tmp_path, progress=False, verify=False)
    print(table(outcomes))
    assert not _bad(outcomes), "\n".join(_bad(outcomes))


# Hand-made hostile cases that stop before any conversion work; those that run onnx2tf (the ONNX
# models accepted by validation) cost 30-60 s each and are left to `make fuzz`.
FAST_HOSTILE = {c.name: c for c in hostile_cases() if c.name not in ("onnx-non-utf8-name",)}


# Hostile, but valid: TFLM runs them, and so must the generated C, bit for bit (verified).
VALID = {"tflite-input-scale-65536", "tflite-input-scale-1e-30", "tflite-input-scale-65536-inspect",
         "tflite-input-scale-1e-30-inspect", "report-no-model-report", "tflite-non-utf8-input-name",
         "found-tflm-aborts-scale-65536-inspect"}


@pytest.mark.parametrize("name", sorted(FAST_HOSTILE))
def test_hostile_case(tmp_path, name):
    """Each hostile case ends in a clear error (what, where, how to fix; non-zero exit; nothing written),
    or, for the valid ones, in a result that equals TFLM's."""
    case = FAST_HOSTILE[name]
    limits = ONNX_LIMITS if case.files and case.files[0][0].endswith(".onnx") else TFLITE_LIMITS
    outcome = run_case(case, tmp_path, verify=name in VALID, **limits)
    expected = ("ok", "cache write") if name in VALID else ("clear error",)
    assert outcome.outcome in expected, f"{outcome.outcome}: {outcome.detail}"


@pytest.mark.parametrize("name", sorted(found_by_fuzzing()))
def test_found_by_fuzzing_regressions(tmp_path, name):
    """Each failure the campaign found (reduced to the tiny model) stays a clear error, also through
    `inspect` (which lists the problem and exits 1)."""
    data = found_by_fuzzing()[name]
    for argv in (("convert", "model.tflite", "--board", "host", "-o", "OUT"), ("inspect", "model.tflite")):
        outcome = run_case(Case(name, "hostile", argv, files=(("model.tflite", data),)), tmp_path, **TFLITE_LIMITS)
        assert outcome.outcome == "clear error", f"{argv[0]}: {outcome.outcome}: {outcome.detail}"


def _raises(argv):
    raise ValueError("boom")


def _internal_error(argv):
    print("error: internal error in tinyattend (convert): ValueError: boom", file=__import__("sys").stderr)
    return 70


def _sleeps(argv):
    __import__("time").sleep(60)


def _allocates(argv):
    import numpy as np
    blocks = [np.ones(64 << 20, np.uint8) for _ in range(32)]   # 2 GiB, touched
    return len(blocks)


def _leaves_a_folder(argv):
    import tempfile
    tempfile.mkdtemp(prefix="tinyattend-onnx2tf-")
    return 0


def _writes_beside_out(argv):
    open("beside.txt", "w").close()
    return 0


def _half_writes(argv):
    __import__("os").mkdir("OUT")
    print("error: something", file=__import__("sys").stderr)
    return 2


def _segfaults(argv):
    import ctypes
    ctypes.string_at(0)


@pytest.mark.parametrize("entry, expected", [
    (_raises, "traceback"), (_internal_error, "traceback"), (_sleeps, "hang"), (_allocates, "blow-up"),
    (_leaves_a_folder, "leftover"), (_writes_beside_out, "escape"), (_half_writes, "half-written"),
    (_segfaults, "crash")])
def test_oracle_classifies(tmp_path, entry, expected):
    """The classifier sees each bad outcome (so a slice with none of them means something)."""
    timeout = 3 if expected == "hang" else 60
    outcome = run_case(Case(expected, "self-test", ()), tmp_path, timeout=timeout, memory_mib=512, entry=entry)
    assert outcome.outcome == expected, outcome


def test_model_path_is_a_fifo(tmp_path):
    """A FIFO nobody writes would block any reader: tinyattend must refuse it, not open it."""
    fifo = Case("fifo", "hostile", ("convert", "model.tflite", "--board", "host", "-o", "OUT"),
                setup=(("model.tflite", "fifo"),))
    outcome = run_case(fifo, tmp_path, timeout=20, memory_mib=2048)
    assert outcome.outcome == "clear error", f"{outcome.outcome}: {outcome.detail}"
