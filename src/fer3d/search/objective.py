"""The Optuna objective: a thin adapter from a trial to :func:`~fer3d.evaluation.crossval.cross_validate`.

suggest -> :class:`~fer3d.config.ExperimentConfig` -> cross-validate, reporting after every fold. The folds
of a trial are saved under ``OUT/trials/<config fingerprint>/``, so a retried trial (same parameters, hence
the same fingerprint) resumes from its finished folds instead of training them again.

With cheap rungs (``fer3d.search.rungs``), the trial cross-validates each rung first and goes on to the
objective's folds only while the rung pruner promotes it; rung folds are saved under ``OUT/rungs/``.
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
from fer3d.search.rungs import Rung, RungSchedule, verdict
from fer3d.search.space import suggest
from fer3d.training.members import StartingWeights

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
RUNG_SCORES = "rung_scores"  # pooled accuracy of each cheap rung the trial finished
PRUNED_AT_RUNG = "pruned_at_rung"


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
    space: str = "paper"  # "paper" (Table 1) | "extended"
    # cheap rungs before the objective, with their folds (None: the objective alone)
    rungs: RungSchedule | None = None
    rung_folds: list[list[Fold]] | None = None
    warm_start: StartingWeights | None = None  # --init: every fold starts from these weights

    def __post_init__(self) -> None:
        self.last_trial: int | None = None  # number of the trial this process ran last
        self.total = int(sum(len(f.test) for f in self.folds))
        if self.total == 0:
            raise ValueError("the folds test no sequence")
        if self.rungs is not None:
            if self.pruner not in ("exact", "none"):
                raise ValueError(f"cheap rungs combine with exact pruning only, not {self.pruner!r}")
            if self.rung_folds is None or len(self.rung_folds) != len(self.rungs.rungs):
                raise ValueError("give the folds of every cheap rung")

    def __call__(self, trial: optuna.Trial) -> float:
        self.last_trial = trial.number
        self._refuse_surplus(trial)
        start = time.perf_counter()
        config = self.base.with_overrides(suggest(trial, self.search_lr, self.space))
        run_dir = self.out_dir / "trials" / config.fingerprint()
        trial.set_user_attr(CONFIG, config.to_dict())
        trial.set_user_attr(RUN_DIR, str(run_dir))
        trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")
        run_dirs = [run_dir]
        if self.rungs is not None:
            assert self.rung_folds is not None
            rungs = list(zip(self.rungs.rungs, self.rung_folds, strict=True))
            run_dirs += [self._rung_dir(rung, config) for rung, _ in rungs]
        trained_before = sum(_count_folds(d) for d in run_dirs)
        if self.rungs is not None:
            self._run_rungs(trial, config, rungs, start, run_dirs, trained_before)

        def on_fold(result: FoldResult, finished: list[FoldResult], n_folds: int) -> None:
            tested = np.concatenate([f.test_indices for f in finished]).astype(int)
            predicted = np.concatenate([f.predictions for f in finished]).astype(int)
            correct = int((self.store.labels[tested] == predicted).sum())
            step = len(finished) - 1
            # Wilcoxon pairs per-fold scores with the best trial's; the others follow the pooled score.
            value = result.accuracy if self.pruner == "wilcoxon" else correct / len(tested)
            trial.report(value, step if self.rungs is None else self.rungs.objective_step(step))
            trial.set_user_attr(FOLD_ACCURACIES, [f.accuracy for f in finished])
            if self.on_step is not None:
                self.on_step(len(finished), n_folds)
            exact = self.pruner != "none" and cannot_reach(correct, len(tested), self.total, self.threshold)
            if self.rungs is not None:
                reason = verdict(trial, exact, at_rung_end=False)
            elif exact:
                reason = "exact"
            elif self.pruner in ("median", "wilcoxon") and len(finished) < n_folds and trial.should_prune():
                reason = self.pruner
            else:
                reason = None
            if reason is not None:
                self._finish(trial, start, run_dirs, trained_before)
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
            warm_start=self.warm_start,
        )
        self._finish(trial, start, run_dirs, trained_before)
        trial.set_user_attr(POOLED, result.pooled_accuracy)
        return result.pooled_accuracy

    def _rung_dir(self, rung: Rung, config: ExperimentConfig) -> Path:
        return self.out_dir / "rungs" / rung.name / rung.config(config).fingerprint()

    def _run_rungs(
        self,
        trial: optuna.Trial,
        config: ExperimentConfig,
        rungs: list[tuple[Rung, list[Fold]]],
        start: float,
        run_dirs: list[Path],
        trained_before: int,
    ) -> None:
        """Cross-validate every cheap rung in turn; stop the trial where the rung pruner does not promote it.

        No exact pruning here: a rung's accuracy is not the objective's, so its threshold says nothing.
        """
        assert self.rungs is not None
        scores: list[float] = []
        for index, (rung, folds) in enumerate(rungs):
            result = cross_validate(
                self.store,
                rung.config(config),
                "kfold",
                folds=folds,
                out_dir=self._rung_dir(rung, config),
                device=self.device,
                progress=False,
                warm_start=self.warm_start,
            )
            scores.append(result.pooled_accuracy)
            trial.set_user_attr(RUNG_SCORES, scores)
            trial.report(result.pooled_accuracy, self.rungs.rung_step(index))
            if verdict(trial, exact_stop=False, at_rung_end=True) is not None:
                self._finish(trial, start, run_dirs, trained_before)
                trial.set_user_attr(PRUNED_AT_RUNG, index)
                trial.set_user_attr(PRUNED_BY, "rung")
                raise optuna.TrialPruned(f"not promoted after rung {index} ({rung.name})")

    def _finish(self, trial: optuna.Trial, start: float, run_dirs: list[Path], trained_before: int) -> None:
        trial.set_user_attr(WALL, time.perf_counter() - start)
        trial.set_user_attr(FOLDS_TRAINED, sum(_count_folds(d) for d in run_dirs) - trained_before)

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
