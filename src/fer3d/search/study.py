"""Run (or resume, or join) a search: storage, sampler, worker loop and live progress.

``n_trials`` is the study's total across every worker and every restart: a worker starts a trial only
while finished + running trials are fewer than asked, waits while other workers' (or a killed process's)
trials are running, and leaves once the total is reached. A trial of a killed process is found by its
missing heartbeat, marked failed, and retried with the same parameters (so it resumes its saved folds).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState
from tqdm import tqdm

from fer3d.atomic import claim_output_folder, has_entry
from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation.splits import folds_within
from fer3d.presets import PRESETS
from fer3d.search.objective import CONFIG, Objective, SurplusTrialError
from fer3d.search.pruning import PRUNERS, optuna_pruner
from fer3d.search.rungs import FIDELITIES, RungSchedule
from fer3d.search.sampler import SAMPLERS, make_sampler
from fer3d.search.space import SPACES, Categorical, dimensions, warm_start_params
from fer3d.search.sqlite_claim import ClaimLockedSQLiteStorage
from fer3d.search.stale import reclaim_dead_local_trials
from fer3d.training.members import StartingWeights

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

# (trial number, folds done, folds of the trial), after each fold of a trial this process runs
TrialStepCallback = Callable[[int, int, int], None]


class SearchError(ValueError):
    """A search cannot run or be read as asked; the message says why."""


@dataclass(frozen=True)
class SearchSettings:
    study_name: str
    out_dir: Path = Path("runs/search")
    base: ExperimentConfig = field(default_factory=ExperimentConfig)  # fixed choices: preset + profile
    storage: str | None = None  # default: sqlite:///OUT/search.db
    n_trials: int = 100  # total over all workers and restarts
    timeout: float | None = None  # seconds for this worker
    threshold: float = 0.965  # exact pruning target (pooled accuracy)
    protocol: str = "loso"
    k: int = 10
    split_seed: int = 0
    sampler: str = "tpe"
    seed: int = 0
    startup_trials: int = 10  # TPE: random trials before it models the history
    pruner: str = "exact"
    search_lr: bool = False
    device: str | None = None
    heartbeat_interval: int = 30  # seconds between "still alive" marks of a running trial
    grace_period: int = 120  # a running trial silent for this long is failed and retried
    max_retry: int = 2
    space: str = "paper"  # "paper": exactly Table 1 | "extended"
    fidelity: str = "single"  # "single": the objective alone | "rungs": cheap rungs first
    rungs: RungSchedule = field(default_factory=RungSchedule)  # used with fidelity "rungs"
    warm_start: bool = True  # the paper's presets are the first trials
    # --init: every fold of every trial starts from these weights; the searched dimensions that would
    # change the weights' shapes are kept at the folder's values (and the presets are not queued)
    init_weights: StartingWeights | None = None

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise SearchError(f"unknown search space {self.space!r}; choose one of {list(SPACES)}")
        if self.fidelity not in FIDELITIES:
            raise SearchError(f"unknown fidelity {self.fidelity!r}; choose one of {list(FIDELITIES)}")
        if self.fidelity == "rungs" and self.pruner not in ("exact", "none"):
            raise SearchError(
                f"--fidelity rungs prunes with its rung pruner and exact pruning; drop --pruner {self.pruner}"
            )
        if self.sampler not in SAMPLERS:
            raise SearchError(f"unknown sampler {self.sampler!r}; choose one of {list(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise SearchError(f"unknown pruner {self.pruner!r}; choose one of {list(PRUNERS)}")
        if self.protocol not in ("loso", "kfold"):
            raise SearchError(f"unknown protocol {self.protocol!r}; use loso or kfold")
        if self.startup_trials < 1:
            raise SearchError(f"startup_trials must be at least 1, got {self.startup_trials}")
        if self.n_trials < 1:
            raise SearchError(f"n_trials must be at least 1, got {self.n_trials}")
        if not 0.0 <= self.threshold <= 1.0:
            raise SearchError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.grace_period <= self.heartbeat_interval:
            raise SearchError("grace_period must be longer than heartbeat_interval")

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(Path(self.out_dir) / 'search.db').resolve()}"


def open_storage(url: str, settings: SearchSettings | None = None) -> RDBStorage:
    """RDB storage with heartbeats; SQLite waits on a busy lock instead of failing at once, and its
    workers claim queued trials one at a time (:mod:`fer3d.search.sqlite_claim`)."""
    storage_class: type[RDBStorage] = RDBStorage
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}}
        storage_class = ClaimLockedSQLiteStorage
    else:
        engine_kwargs = {"pool_pre_ping": True}
    if settings is None:
        return _create_schema_safely(lambda: storage_class(url, engine_kwargs=engine_kwargs))
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; they are what resume needs
        warnings.simplefilter("ignore")
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 4.9
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=settings.max_retry)
            callback = {"heartbeat_stale_trial_callback": retry}
        else:
            callback = {
                "failed_trial_callback": optuna.storages.RetryFailedTrialCallback(
                    max_retry=settings.max_retry
                )
            }
        return _create_schema_safely(
            lambda: storage_class(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=settings.heartbeat_interval,
                grace_period=settings.grace_period,
                **callback,
            )
        )


def _create_schema_safely(make: Any, attempts: int = 5) -> RDBStorage:
    """Workers started together on an empty database race to create Optuna's tables; the losers get an
    integrity error from the schema creation. Retry: by then the winner's schema is there."""
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            return make()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def study_identity(store: ClipStore, settings: SearchSettings, subset: np.ndarray | None) -> dict[str, Any]:
    """What must not change between the workers and restarts of one study (else trials would mix)."""
    subset_key = (
        None if subset is None else hashlib.sha256(np.sort(np.asarray(subset)).tobytes()).hexdigest()[:16]
    )
    return {
        "cache_fingerprint": store.fingerprint,
        "base_config": settings.base.fingerprint(),
        "protocol": settings.protocol,
        "k": settings.k if settings.protocol == "kfold" else None,
        "split_seed": settings.split_seed if settings.protocol == "kfold" else None,
        "threshold": settings.threshold,
        "pruner": settings.pruner,
        "search_lr": settings.search_lr,
        "subset": subset_key,
        # added later: only when not the default, so studies made before them still resume
        **({"space": settings.space} if settings.space != "paper" else {}),
        **({"rungs": settings.rungs.describe()} if settings.fidelity == "rungs" else {}),
        **({"init": settings.init_weights.describe()} if settings.init_weights is not None else {}),
    }


def create_or_load(
    store: ClipStore, settings: SearchSettings, subset: np.ndarray | None = None
) -> optuna.Study:
    claim_output_folder(settings.out_dir, has_entry("search.db", "trials"), "search folder")
    storage = open_storage(settings.storage_url, settings)
    study = optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        sampler=_with_fixed_architecture(
            make_sampler(settings.sampler, settings.seed, settings.startup_trials), settings
        ),
        pruner=settings.rungs.pruner() if settings.fidelity == "rungs" else optuna_pruner(settings.pruner),
        direction="maximize",
        load_if_exists=True,
    )
    identity = study_identity(store, settings, subset)
    stored = study.user_attrs.get("identity")
    if stored is None:
        study.set_user_attr("identity", identity)
        study.set_user_attr("settings", {k: str(v) for k, v in asdict(settings).items() if k != "base"})
    elif stored != identity:
        changed = sorted(k for k in identity if stored.get(k) != identity.get(k))
        raise SearchError(
            f"study {settings.study_name!r} in {settings.storage_url} was run with other settings "
            f"({', '.join(changed)} differ); use another --study name or the original options"
        )
    if settings.warm_start and settings.init_weights is None:
        enqueue_presets(study, settings)
    return study


def _fixed_architecture(settings: SearchSettings) -> dict[str, tuple[str, Any]]:
    """With ``init_weights``: {parameter name: (config field, value)} of the searched dimensions that
    shape the weights, kept at the folder's values; empty without ``init_weights``."""
    if settings.init_weights is None:
        return {}
    kept = settings.init_weights.architecture()
    fixed = {}
    for dim in dimensions(settings.search_lr, settings.space):
        if dim.field in kept:
            value = kept[dim.field]
            if not isinstance(dim, Categorical) or value not in dim.choices:
                raise SearchError(
                    f"--init: its {dim.field} {value!r} is not a choice of the {settings.space} search "
                    "space; use a model folder trained with one of its choices"
                )
            fixed[dim.name] = (dim.field, value)
    return fixed


def _with_fixed_architecture(sampler: optuna.samplers.BaseSampler, settings: SearchSettings):
    fixed = {name: value for name, (_, value) in _fixed_architecture(settings).items()}
    return optuna.samplers.PartialFixedSampler(fixed, sampler) if fixed else sampler


def enqueue_presets(study: optuna.Study, settings: SearchSettings) -> None:
    """The paper's presets as the study's first trials, once: a trial with the same parameters in any
    state (queued, running, finished, failed) is not queued again, on resume or by another worker."""
    presets = warm_start_params(settings.base, PRESETS, settings.search_lr, settings.space)
    for name, params in presets.items():
        study.enqueue_trial(params, user_attrs={"warm_start": name}, skip_if_exists=True)


def run_search(
    store: ClipStore,
    settings: SearchSettings,
    *,
    subset: np.ndarray | None = None,
    progress: bool = True,
    on_trial_step: TrialStepCallback | None = None,
) -> optuna.Study:
    """Run trials until the study holds ``settings.n_trials`` finished ones (or the timeout passes).

    ``subset`` restricts the search to these clip indices (nested cross-validation searches on the outer
    training part only); folds are made on the whole store and then restricted, keeping subjects whole.
    ``on_trial_step(trial, folds done, folds)`` follows the trials this process runs.
    """
    if progress:
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bar says what the INFO lines would
    if settings.init_weights is not None:  # before any trial: the base with the kept choices fits
        kept = {field: value for field, value in _fixed_architecture(settings).values()}
        settings.init_weights.check_fits(settings.base.with_overrides(kept), store.channels)
    study = create_or_load(store, settings, subset)
    try:
        folds = folds_within(
            settings.protocol, store.labels, store.subjects, subset, k=settings.k, seed=settings.split_seed
        )
    except ValueError as err:
        raise SearchError(
            f"the search's {settings.protocol} folds cannot split these subjects: {err}"
        ) from None
    rungs = settings.rungs if settings.fidelity == "rungs" else None
    rung_folds = None
    if rungs is not None:
        try:
            rung_folds = [
                r.folds(store.labels, store.subjects, settings.split_seed, subset) for r in rungs.rungs
            ]
        except ValueError as err:
            raise SearchError(f"a cheap rung cannot split these subjects: {err}") from None
    bar = tqdm(
        total=settings.n_trials, desc=f"search {settings.study_name}", unit="trial", disable=not progress
    )
    objective = Objective(
        store=store,
        base=settings.base,
        folds=folds,
        out_dir=Path(settings.out_dir),
        threshold=settings.threshold,
        pruner=settings.pruner,
        search_lr=settings.search_lr,
        protocol=settings.protocol,
        n_trials=settings.n_trials,
        device=settings.device,
        space=settings.space,
        rungs=rungs,
        rung_folds=rung_folds,
        warm_start=settings.init_weights,
        on_step=lambda done, n: _trial_step(bar, study, objective.last_trial, done, n, on_trial_step),
    )
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    try:
        while deadline is None or time.monotonic() < deadline:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optuna.storages.fail_stale_trials(study)  # a killed worker's trial: failed, then retried
            reclaim_dead_local_trials(study, settings.max_retry)  # at once when it ran on this host
            trials = study.get_trials(deepcopy=False)
            finished = sum(t.state in FINISHED for t in trials)
            busy = sum(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
            _refresh(bar, study, finished)
            if finished >= settings.n_trials:
                break
            if finished + busy >= settings.n_trials and not any(
                t.state == TrialState.WAITING for t in trials
            ):
                bar.set_postfix_str(
                    study_summary(study) + f" | waiting for {busy} running trial(s) of other workers; a "
                    f"killed one on another host is retried after --grace {settings.grace_period} s",
                    refresh=True,
                )
                time.sleep(min(5.0, settings.heartbeat_interval))  # others' trials may still finish or fail
                continue
            try:
                with _quiet_surplus():
                    study.optimize(objective, n_trials=1, catch=(SurplusTrialError,), gc_after_trial=False)
            except KeyboardInterrupt:
                _requeue(study, objective.last_trial)
                raise
    finally:
        _refresh(bar, study, sum(t.state in FINISHED for t in study.get_trials(deepcopy=False)))
        bar.close()
    return study


class _SurplusFilter(logging.Filter):
    """Drops Optuna's warnings (with a traceback) about a surplus trial: stepping back is expected."""

    def __init__(self) -> None:
        super().__init__()
        self.trials: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "SurplusTrialError" in message:
            self.trials.add(message.split()[1])  # "Trial N failed with parameters ..."
            return False
        return not (message.startswith("Trial ") and message.split()[1] in self.trials)


@contextlib.contextmanager
def _quiet_surplus() -> Iterator[None]:
    logger = logging.getLogger("optuna.study._optimize")  # where Optuna logs a failed trial
    surplus = _SurplusFilter()
    logger.addFilter(surplus)
    try:
        yield
    finally:
        logger.removeFilter(surplus)


def _requeue(study: optuna.Study, number: int | None) -> None:
    """Ctrl-C fails the running trial; queue its parameters so the next run resumes its saved folds."""
    if number is None:
        return
    trial = study.get_trials(deepcopy=False)[number]
    if trial.state == TrialState.FAIL and not trial.user_attrs.get("surplus"):
        study.enqueue_trial(trial.params, user_attrs={"requeued_from": number})


def study_summary(study: optuna.Study) -> str:
    """One line of trial counts and the best pooled accuracy so far."""
    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    done = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best = f"{100 * max(done):.1f}%" if done else "-"
    return (
        f"done {count[TrialState.COMPLETE]} pruned {count[TrialState.PRUNED]} "
        f"failed {count[TrialState.FAIL]} running {count[TrialState.RUNNING]} best {best}"
    )


def _refresh(bar: tqdm, study: optuna.Study, finished: int) -> None:
    bar.n = min(finished, bar.total)
    bar.set_postfix_str(study_summary(study), refresh=True)


def _trial_step(
    bar: tqdm,
    study: optuna.Study,
    trial: int | None,
    done: int,
    n: int,
    on_trial_step: TrialStepCallback | None,
) -> None:
    bar.set_postfix_str(study_summary(study) + f" | trial {trial} fold {done}/{n}", refresh=True)
    if on_trial_step is not None and trial is not None:
        on_trial_step(trial, done, n)


def load_study(study_name: str, storage_url: str) -> optuna.Study:
    try:
        return optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(open_storage(storage_url))]
        raise SearchError(
            f"no study {study_name!r} in {storage_url}; studies there: {names or 'none'}"
        ) from None


def best_config(study: optuna.Study) -> ExperimentConfig:
    """The full config of the best finished trial (its pooled accuracy was measured on the search folds)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise SearchError(
            f"study {study.study_name!r} has no completed trial yet (all pruned, failed or running)"
        )
    return ExperimentConfig.from_dict(study.best_trial.user_attrs[CONFIG])
