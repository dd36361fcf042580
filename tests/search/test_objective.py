from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest

from fer3d.config import ExperimentConfig
from fer3d.evaluation.splits import loso
from fer3d.search.objective import (
    CONFIG,
    FOLD_ACCURACIES,
    FOLDS_TRAINED,
    POOLED,
    PRUNED_AT,
    PRUNED_BY,
    WALL,
    Objective,
)
from fer3d.search.space import suggest

PARAMS = {
    "optimizer": "adam",
    "clahe": True,
    "normalize": False,
    "activation": "relu",
    "class_weights": False,
    "temporal_kernel": 3,
    "init": "xavier_uniform",
    "pooling": "avg",
    "extra_block": False,
    "dropout": 0.3,
}


def _run(store, base, out: Path, threshold: float, pruner: str = "exact") -> optuna.trial.FrozenTrial:
    """One trial with fixed parameters; trials of the same parameters share their saved folds."""
    folds = loso(store.subjects)
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(PARAMS)
    objective = Objective(store, base, folds, out, threshold=threshold, pruner=pruner)
    study.optimize(objective, n_trials=1)
    return study.trials[0]


def _fold_outcomes(store, run_dir: Path) -> list[tuple[int, int]]:
    """(correct, tested) per fold, read from the saved fold files."""
    out = []
    for path in sorted((run_dir / "folds").glob("fold_*.json")):
        fold = json.loads(path.read_text())
        labels = store.labels[np.array(fold["test_indices"])]
        out.append((int((labels == np.array(fold["predictions"])).sum()), len(labels)))
    return out


def _first_impossible_fold(outcomes: list[tuple[int, int]], threshold: float) -> int | None:
    total = sum(t for _, t in outcomes)
    correct = tested = 0
    for index, (c, t) in enumerate(outcomes):
        correct, tested = correct + c, tested + t
        if (correct + total - tested) < threshold * total - 1e-9:
            return index
    return None


def test_trial_records_config_folds_and_time(fake_store, tiny_base, tmp_path: Path) -> None:
    trial = _run(fake_store, tiny_base, tmp_path / "out", threshold=0.0)
    assert trial.state == optuna.trial.TrialState.COMPLETE
    expected = tiny_base.with_overrides(suggest(optuna.trial.FixedTrial(PARAMS)))
    assert ExperimentConfig.from_dict(trial.user_attrs[CONFIG]) == expected
    assert len(trial.user_attrs[FOLD_ACCURACIES]) == len(set(fake_store.subjects))
    assert trial.user_attrs[POOLED] == trial.value
    assert trial.user_attrs[WALL] > 0
    assert trial.user_attrs[FOLDS_TRAINED] == 6
    assert PRUNED_AT not in trial.user_attrs
    assert sorted(trial.intermediate_values) == list(range(6))
    # The folds are kept under the config's fingerprint: a retried trial resumes them.
    run_dir = tmp_path / "out" / "trials" / expected.fingerprint()
    assert len(list((run_dir / "folds").glob("fold_*.json"))) == 6


def test_exact_pruning_keeps_a_passing_trial_and_stops_a_failing_one_at_the_first_impossible_fold(
    fake_store, chance_base, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    full = _run(fake_store, chance_base, out, threshold=0.0, pruner="none")
    run_dir = Path(full.user_attrs["run_dir"])
    outcomes = _fold_outcomes(fake_store, run_dir)
    final = sum(c for c, _ in outcomes) / sum(t for _, t in outcomes)
    assert final < 0.9
    assert full.value == pytest.approx(final)

    # Exactly at its final accuracy the trial passes: it must never be pruned.
    kept = _run(fake_store, chance_base, out, threshold=final)
    assert kept.state == optuna.trial.TrialState.COMPLETE
    assert kept.value == pytest.approx(final)
    assert kept.user_attrs[FOLDS_TRAINED] == 0  # every fold came from disk: same predictions

    # Above it the trial cannot pass: it stops at the first fold where that becomes certain.
    correct0, tested0 = outcomes[0]
    total = sum(t for _, t in outcomes)
    for threshold in (final + 1e-6, (correct0 + total - tested0) / total + 1e-6, 1.0):
        pruned = _run(fake_store, chance_base, out, threshold=threshold)
        expected = _first_impossible_fold(outcomes, threshold)
        assert expected is not None
        assert pruned.state == optuna.trial.TrialState.PRUNED, threshold
        assert pruned.user_attrs[PRUNED_AT] == expected
        assert pruned.user_attrs[PRUNED_BY] == "exact"
        assert len(pruned.user_attrs[FOLD_ACCURACIES]) == expected + 1


def test_pruner_none_never_prunes(fake_store, chance_base, tmp_path: Path) -> None:
    trial = _run(fake_store, chance_base, tmp_path / "out", threshold=1.0, pruner="none")
    assert trial.state == optuna.trial.TrialState.COMPLETE


def test_optuna_pruner_is_consulted_after_each_fold(fake_store, tiny_base, tmp_path: Path) -> None:
    folds = loso(fake_store.subjects)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.enqueue_trial(PARAMS)
    objective = Objective(fake_store, tiny_base, folds, tmp_path, threshold=0.0, pruner="median")
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert (trial.user_attrs[PRUNED_AT], trial.user_attrs[PRUNED_BY]) == (0, "median")


def test_extended_space_trains_a_temporal_head(fake_store, tiny_base, tmp_path: Path) -> None:
    params = {
        **PARAMS,
        "optimizer": "adamw",
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "epochs": 14,
        "size": 32,
        "width": 0.125,
        "label_smoothing": 0.1,
        "ema_decay": 0.0,
        "mix": "none",
        "temporal_head": "lstm",
    }
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(params)
    objective = Objective(
        fake_store, tiny_base, loso(fake_store.subjects), tmp_path, threshold=1.0, space="extended"
    )
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    config = ExperimentConfig.from_dict(trial.user_attrs[CONFIG])
    assert config.model.temporal_head == "lstm" and config.train.optimizer == "adamw"
    assert config.train.epochs == 14 and config.train.label_smoothing == 0.1
    assert trial.user_attrs[FOLD_ACCURACIES]  # at least one fold trained and scored
