"""`tinyattend search` end to end on a local Ray cluster of 2 workers: real training, conversion, emulated
Cortex-M7 runs and host scoring, a study in SQLite that resumes, an interrupted trial recovered, and limits
that no candidate can meet refused before any training. Small data and a small space keep it to about a minute.
"""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch (requirements-zoo.lock) trains the candidates")
ray = pytest.importorskip("ray", reason="ray (requirements.lock) runs the trials")
optuna = pytest.importorskip("optuna", reason="optuna (requirements.lock) holds the study")

import tinyattend  # noqa: E402
from tinyattend.errors import DoesNotFitError  # noqa: E402

pytestmark = pytest.mark.slow

SPACE = """\
downsample: [1]
stem: [8]
stem_stride: [2]
stages: [2]
widths: [[8], [8, 12]]
strides: [1, 2]
depth: [1]
expand: [1, 2]
kernel: [3]
condenser: [none, dcac]
reduction: [4]
condense_all: [false]
head: [16]
"""


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster with 2 worker CPUs for the whole module (the search joins it)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """sklearn's digits at 16x16, grey, 20 per class: 150 to train, 50 held out."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    keep = np.concatenate([np.flatnonzero(digits.target == c)[:20] for c in range(10)])
    x = (digits.images[keep] * 16).clip(0, 255).astype(np.uint8).repeat(2, axis=1).repeat(2, axis=2)
    folder = tmp_path_factory.mktemp("search")
    np.savez(folder / "digits16.npz", x=x, y=digits.target[keep])
    (folder / "space.yaml").write_text(SPACE)
    return folder


def _search(folder, out, trials, **kwargs):
    return tinyattend.search(str(folder / "digits16.npz"), board="cortex-m7", trials=trials, out=out, epochs=1,
                             space=folder / "space.yaml", **kwargs)


def _csv(out):
    with open(out / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def test_trials_run_in_ray_workers_and_the_study_resumes(cluster, small_data, tmp_path):
    out = tmp_path / "search"
    first = _search(small_data, out, trials=2)
    rows = _csv(out)
    assert [r["status"] for r in rows] == ["complete", "complete"], rows
    summary = json.loads((out / "summary.json").read_text())
    assert summary["driver_pid"] == os.getpid() and summary["trials"]["complete"] == 2
    worker_pids = {int(r["worker_pid"]) for r in rows}
    assert os.getpid() not in worker_pids and worker_pids <= set(summary["worker_pids"])
    for row in rows:
        assert row["bit_exact"] == "True" and int(row["instructions"]) > 10_000 and int(row["peak_ram"]) > 0
        assert 0.0 <= float(row["int8_top1"]) <= 1.0 and row["worker_node"]
    assert first.recommended is not None and summary["recommended"]["trial"] == first.recommended["trial"]
    front = out / "front" / f"trial-{first.recommended['trial']:04d}"
    assert (front / "model.onnx").is_file() and (front / "project" / "model.tflite").is_file()
    assert (out / "pareto.png").stat().st_size > 10_000

    # A driver that stopped mid-trial leaves it RUNNING in the storage: the next run marks it failed,
    # queues its architecture again, and runs it and the one trial still owed. Finished trials are kept.
    study = optuna.load_study(study_name="tinyattend-search", storage=f"sqlite:///{out / 'study.db'}")
    cut_off = study.ask({"stages": optuna.distributions.CategoricalDistribution([2])})
    _search(small_data, out, trials=3)
    again = _csv(out)
    assert again[:2] == rows
    by_trial = {int(r["trial"]): r for r in again}
    assert by_trial[cut_off.number]["status"] == "failed" and "interrupted" in by_trial[cut_off.number]["reason"]
    counted = [r for r in again if "interrupted" not in r["reason"]]
    assert len(counted) == 3 and all(r["status"] == "complete" for r in counted)


def test_limits_no_candidate_meets_are_refused_before_training(cluster, small_data, tmp_path):
    with pytest.raises(DoesNotFitError, match="no candidate of the search space can meet the limits") as info:
        _search(small_data, tmp_path / "tight", trials=2, max_instructions=1000)
    assert "instructions > limit 1,000" in str(info.value) and "--max-instructions" in info.value.fix
