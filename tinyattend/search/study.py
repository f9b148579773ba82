"""The search driver: an Optuna study whose trials run as Ray tasks.

- Optuna holds the study: SQLite in OUT/study.db by default, any RDB URL with --storage. Each trial's
  figures are the trial's user attributes, so trials.csv, the front and the summary can always be
  rebuilt from the storage, and an interrupted search resumes with the same command.
- Sampler: multi-objective TPE (int8 top-1 up, instructions down), constraint-aware (a rejected
  candidate teaches where the infeasible region is, through `Trial.set_constraint`: > 0 is over a limit),
  `constant_liar` so that trials in flight are not sampled twice. Why not NSGA-II: its first generation is
  random, and 40 trials is less than one of its default populations (50); TPE models the good and the bad
  trials from its tenth trial on.
- Ray runs the trials: with no --address it starts a local cluster of --workers CPUs, with one it joins
  that cluster and each trial runs wherever Ray places it. One trial is one task of one CPU.
- A trial still RUNNING in the storage when a driver starts was cut off (Ctrl-C, a killed driver): it is
  marked failed, does not count, and its architecture is queued again.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import DoesNotFitError, OptionError, OutputDirError, ToolchainError
from .trial import Limits, TrialRequest, run_trial
from .train import TrainBudget

STUDY_NAME = "tinyattend-search"
MARKER = ".tinyattend-search"
POLL_S = 2.0


@dataclass(frozen=True)
class SearchSettings:
    data: str
    board: str = "cortex-m7"
    trials: int = 40
    out: Path = Path("search-out")
    limits: Limits = Limits()
    budget: TrainBudget = TrainBudget()
    space: str | None = None               # a YAML file, or None for the default space
    address: str | None = None             # ray://HOST:PORT or auto; None: a local cluster
    storage: str | None = None             # an Optuna RDB URL; None: sqlite:///OUT/study.db
    workers: int = 0                       # CPUs of the local cluster; 0: all of this machine's
    seed: int = 0
    trial_timeout: float = 1800.0
    tolerance: float = 0.005               # recommended: fewest instructions within this of the best top-1
    progress: bool = True


def run_search(settings: SearchSettings):
    """The whole search; returns results.SearchSummary. Raises TinyattendError for bad input."""
    _check_installed()
    import optuna

    from ..boards import load_board
    from . import results
    from .data import load_dataset
    from .space import load_space

    _check_options(settings)
    board = load_board(settings.board)
    if board.is_host or board.run.get("kind") != "qemu":
        raise OptionError(f"--board {settings.board}: a search runs every candidate on an emulated board, and "
                          f"{board.name} is not one", "search on an emulated board of the same core (e.g. "
                          "cortex-m7), then bench the chosen model on the real board with `tinyattend bench`")
    space = load_space(settings.space)
    dataset = load_dataset(settings.data, settings.seed)
    out = _prepare_out(Path(settings.out))
    storage = settings.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=settings.seed, multivariate=True, constant_liar=True,
                                         n_startup_trials=min(10, max(1, settings.trials // 4)))
    try:
        study = optuna.create_study(study_name=STUDY_NAME, storage=storage, load_if_exists=True, sampler=sampler,
                                    directions=["maximize", "minimize"])
    except Exception as err:  # noqa: BLE001 - a bad URL or an unreachable database: say which
        raise OptionError(f"cannot open the study storage {storage}: {type(err).__name__}: {err}",
                          "pass --storage an Optuna RDB URL (sqlite:///PATH, postgresql://...) you can reach") from None
    _check_same_search(study, _fingerprint(settings, space, dataset))
    interrupted = _recover_interrupted(study)
    table = results.ProgressTable(enabled=settings.progress)
    table.header(settings, dataset, storage, interrupted, _finished(study))

    ray, started_ray = _start_ray(settings)
    try:
        table.note(f"Ray: {ray.get_runtime_context().gcs_address} "
                   f"({int(ray.cluster_resources().get('CPU', 0))} CPUs)")
        data_ref = ray.put(dataset)
        task = ray.remote(num_cpus=1, max_retries=0)(run_trial)
        requests = _request_factory(settings)
        if not study.trials and settings.limits != Limits():
            _check_smallest(ray, task, requests(-1, space.smallest()), data_ref, table)
        started = time.monotonic()
        try:
            _run_trials(study, ray, task, data_ref, requests, space, settings, out, table)
        except KeyboardInterrupt:
            results.write_all(study, out, settings, dataset, storage, wall_s=time.monotonic() - started,
                              driver_pid=os.getpid(), ray_address=settings.address or "local", table=None)
            table.note(f"interrupted: the finished trials are in {storage}; run the same command to resume")
            raise
        wall = time.monotonic() - started
    finally:
        if started_ray:
            ray.shutdown()
    return results.write_all(study, out, settings, dataset, storage, wall_s=wall, driver_pid=os.getpid(),
                             ray_address=settings.address or "local", table=table)


def _check_installed() -> None:
    import importlib.util
    missing = [name for name in ("torch", "optuna", "ray") if importlib.util.find_spec(name) is None]
    if missing:
        raise ToolchainError(f"tinyattend search needs {', '.join(missing)}, which is not installed",
                             "make setup (the locked set), or pip install 'tinyattend[search]'")


def _check_options(settings: SearchSettings) -> None:
    if not 1 <= settings.trials <= 10000:
        raise OptionError(f"--trials {settings.trials}: give 1 to 10000 trials", "e.g. --trials 40")
    if settings.budget.epochs < 1 or settings.budget.seconds <= 0:
        raise OptionError("the training budget must be at least one epoch and a positive number of seconds",
                          "e.g. --epochs 20 --train-seconds 240")
    if settings.workers < 0:
        raise OptionError(f"--workers {settings.workers}: give 0 (all CPUs) or more", "e.g. --workers 2")


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"output path {out} exists and is a file", "choose another -o directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OutputDirError(f"output directory {out} exists, is not empty, and is not a tinyattend search",
                             "choose a new or empty -o directory (an existing search's OUT resumes it)")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("a tinyattend search: run the same command to resume it\n")
    return out


def _fingerprint(settings: SearchSettings, space, dataset) -> dict:
    """What makes two invocations the same search (the trial count may grow)."""
    return {"data": settings.data, "data_shape": list(dataset.shape), "classes": list(dataset.class_names),
            "train_images": len(dataset.x_train), "board": settings.board, "limits": asdict(settings.limits),
            "budget": asdict(settings.budget), "seed": settings.seed, "space": space.to_dict()}


def _check_same_search(study, fingerprint: dict) -> None:
    stored = study.user_attrs.get("search")
    if stored is None:
        study.set_user_attr("search", fingerprint)
        return
    changed = sorted(k for k in fingerprint if json.dumps(stored.get(k), sort_keys=True) !=
                     json.dumps(fingerprint[k], sort_keys=True))
    if changed:
        raise OptionError(f"the study in this storage is a different search: {', '.join(changed)} changed "
                          f"(stored: {', '.join(f'{k}={stored.get(k)}' for k in changed)})"[:600],
                          "resume with the options it was started with, or start a new search in another -o "
                          "directory (or --storage)")


def _finished(study) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.user_attrs.get("status") in ("complete", "rejected", "failed") and not t.user_attrs.get("interrupted"))


def _recover_interrupted(study) -> int:
    """Mark trials left RUNNING by a driver that stopped as failed (not counted) and queue them again."""
    from optuna.trial import TrialState
    storage = study._storage
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(trial._trial_id, "status", "failed")
        storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        storage.set_trial_user_attr(trial._trial_id, "reason", "interrupted: the driver stopped; its architecture "
                                                               "was queued again")
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
        count += 1
    return count


def _start_ray(settings: SearchSettings):
    import ray
    if ray.is_initialized():
        return ray, False
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="warning")
    if settings.address:
        try:
            ray.init(address=settings.address, **kwargs)
        except Exception as err:  # noqa: BLE001 - an unreachable cluster: say which
            raise OptionError(f"cannot join the Ray cluster at {settings.address}: {type(err).__name__}: {err}"[:500],
                              "start it (`ray start --head` on the head node) or leave --address out to run locally"
                              ) from None
    else:
        ray.init(num_cpus=settings.workers or os.cpu_count() or 1, **kwargs)
    return ray, True


def _request_factory(settings: SearchSettings):
    def make(number: int, arch) -> TrialRequest:
        return TrialRequest(number=number, architecture=arch.to_dict(), board=settings.board, limits=settings.limits,
                            budget=settings.budget, seed=settings.seed)
    return make


def _check_smallest(ray, task, request, data_ref, table) -> None:
    """Before spending trials: can the smallest candidate of the space meet the limits at all?"""
    from dataclasses import replace
    table.note("checking that the space's smallest candidate meets the limits (one untrained trial)")
    result = ray.get(task.remote(replace(request, cost_only=True), data_ref))
    if result["status"] == "rejected":
        raise DoesNotFitError(f"no candidate of the search space can meet the limits: the smallest "
                              f"({result.get('description') or 'of the space'}) is rejected: {result['reason']}",
                              "raise --ram / --flash / --max-instructions, or give --space a smaller space")
    if result["status"] == "failed":
        raise DoesNotFitError(f"the smallest candidate of the search space fails: {result['reason']}",
                              "check the data and the board; run with --debug for details")


def _run_trials(study, ray, task, data_ref, requests, space, settings, out, table) -> None:
    from . import results
    in_flight: dict = {}          # ref -> (optuna trial, started)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
    while True:
        remaining = settings.trials - _finished(study) - len(in_flight)
        while remaining > 0 and len(in_flight) < slots:
            trial = study.ask()
            arch = space.sample(trial)
            ref = task.options(name=f"trial-{trial.number}").remote(requests(trial.number, arch), data_ref)
            in_flight[ref] = (trial, time.monotonic())
            remaining -= 1
        if not in_flight:
            return
        done, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
        for ref in done:
            trial, _ = in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as err:  # noqa: BLE001 - a worker that died (OOM, killed): the trial fails
                result = {"trial": trial.number, "status": "failed", "reason": f"worker lost: {type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}"[:300]}
            results.record(study, trial, result, out)
            results.write_csv(study, out)       # trials.csv stays current even if the driver is killed
            table.row(result)
        now = time.monotonic()
        for ref, (trial, started) in list(in_flight.items()):
            if now - started > settings.trial_timeout:
                ray.cancel(ref, force=True)
                in_flight.pop(ref)
                results.record(study, trial, {"trial": trial.number, "status": "failed",
                                              "reason": f"timed out after {settings.trial_timeout:.0f} s"}, out)
                table.row({"trial": trial.number, "status": "failed", "reason": "timed out"})
