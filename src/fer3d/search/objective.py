"""The Optuna objective: a thin adapter from a trial to :func:`~fer3d.evaluation.crossval.cross_validate`.

suggest -> :class:`~fer3d.config.ExperimentConfig` -> cross-validate, reporting after every fold. The folds
of a trial are saved under ``OUT/trials/<config fingerprint>/``, so a retried trial (same parameters, hence
the same fingerprint) resumes from its finished folds instead of training them again.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna

from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import FoldResult, cross_validate
from fer3d.evaluation.splits import Fold
from fer3d.search.pruning import cannot_reach
from fer3d.search.space import suggest

# Trial user attributes (what `fer3d best` and reports read back).
CONFIG = "config"
FOLD_ACCURACIES = "fold_accuracies"
POOLED = "pooled_accuracy"
PRUNED_AT = "pruned_at_fold"
PRUNED_BY = "pruned_by"
WALL = "wall_seconds"
FOLDS_TRAINED = "folds_trained"
RUN_DIR = "run_dir"
WORKER = "worker"  # host:pid that ran the trial


class SurplusTrialError(RuntimeError):
    """Another worker already started the last trial asked for; this one is marked failed, never run."""


@dataclass
class Objective:
    store: ClipStore
    base: ExperimentConfig
    folds: list[Fold]
    out_dir: Path
    threshold: float
    pruner: str = "exact"  # "exact" | "median" | "wilcoxon" | "none"
    search_lr: bool = False
    protocol: str = "loso"
    n_trials: int | None = None  # the study's total, to refuse surplus trials of racing workers
    device: str | None = None
    on_step: Callable[[int, int], None] | None = None  # (folds done, n folds), for a progress bar

    def __post_init__(self) -> None:
        self.last_trial: int | None = None  # number of the trial this process ran last
        self.total = int(sum(len(f.test) for f in self.folds))
        if self.total == 0:
            raise ValueError("the folds test no sequence")

    def __call__(self, trial: optuna.Trial) -> float:
        self.last_trial = trial.number
        self._refuse_surplus(trial)
        start = time.perf_counter()
        config = self.base.with_overrides(suggest(trial, self.search_lr))
        run_dir = self.out_dir / "trials" / config.fingerprint()
        trial.set_user_attr(CONFIG, config.to_dict())
        trial.set_user_attr(RUN_DIR, str(run_dir))
        trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")
        trained_before = _count_folds(run_dir)

        def on_fold(result: FoldResult, finished: list[FoldResult], n_folds: int) -> None:
            tested = np.concatenate([f.test_indices for f in finished]).astype(int)
            predicted = np.concatenate([f.predictions for f in finished]).astype(int)
            correct = int((self.store.labels[tested] == predicted).sum())
            step = len(finished) - 1
            # Wilcoxon pairs per-fold scores with the best trial's; the others follow the pooled score.
            trial.report(result.accuracy if self.pruner == "wilcoxon" else correct / len(tested), step)
            trial.set_user_attr(FOLD_ACCURACIES, [f.accuracy for f in finished])
            if self.on_step is not None:
                self.on_step(len(finished), n_folds)
            reason = None
            if self.pruner != "none" and cannot_reach(correct, len(tested), self.total, self.threshold):
                reason = "exact"
            elif self.pruner in ("median", "wilcoxon") and len(finished) < n_folds and trial.should_prune():
                reason = self.pruner
            if reason is not None:
                self._finish(trial, start, run_dir, trained_before)
                trial.set_user_attr(PRUNED_AT, step)
                trial.set_user_attr(PRUNED_BY, reason)
                raise optuna.TrialPruned(f"pruned by {reason} pruning after fold {step}")

        result = cross_validate(
            self.store,
            config,
            self.protocol,
            folds=self.folds,
            out_dir=run_dir,
            on_fold=on_fold,
            device=self.device,
            progress=False,
        )
        self._finish(trial, start, run_dir, trained_before)
        trial.set_user_attr(POOLED, result.pooled_accuracy)
        return result.pooled_accuracy

    def _finish(self, trial: optuna.Trial, start: float, run_dir: Path, trained_before: int) -> None:
        trial.set_user_attr(WALL, time.perf_counter() - start)
        trial.set_user_attr(FOLDS_TRAINED, _count_folds(run_dir) - trained_before)

    def _refuse_surplus(self, trial: optuna.Trial) -> None:
        """Two workers may both start "the last" trial; the one with the higher number steps back."""
        if self.n_trials is None:
            return
        states = (
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.RUNNING,
        )
        before = [t for t in trial.study.get_trials(deepcopy=False, states=states) if t.number < trial.number]
        if len(before) >= self.n_trials:
            trial.set_user_attr("surplus", True)
            raise SurplusTrialError(f"trial {trial.number}: the study already has {self.n_trials} trials")


def _count_folds(run_dir: Path) -> int:
    return len(list((run_dir / "folds").glob("fold_*.json"))) if (run_dir / "folds").is_dir() else 0
