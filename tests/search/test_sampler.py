"""Samplers: TPE's random start is configurable; draws are seeded per trial number."""

from __future__ import annotations

import optuna
import pytest

from fer3d.search.sampler import make_sampler
from fer3d.search.study import SearchError, SearchSettings


def _draws(sampler: optuna.samplers.BaseSampler, n: int) -> list[float]:
    study = optuna.create_study(sampler=sampler, direction="maximize")
    study.optimize(lambda t: -((t.suggest_float("x", 0.0, 1.0) - 0.9) ** 2), n_trials=n)
    return [t.params["x"] for t in study.trials]


def test_tpe_takes_its_number_of_random_startup_trials() -> None:
    sampler = make_sampler("tpe", seed=0, startup_trials=3)
    _draws(sampler, 1)
    assert sampler._inner._n_startup_trials == 3  # the inner TPE of the last trial
    # the random start is the same whatever follows it; the modelled draws after it differ
    short, long = _draws(make_sampler("tpe", 0, 3), 8), _draws(make_sampler("tpe", 0, 6), 8)
    assert short[:3] == long[:3]
    assert short[3:6] != long[3:6]


def test_the_same_seed_gives_the_same_draws() -> None:
    assert _draws(make_sampler("tpe", 5, 2), 6) == _draws(make_sampler("tpe", 5, 2), 6)
    assert _draws(make_sampler("random", 5), 6) != _draws(make_sampler("random", 6), 6)


def test_startup_trials_must_be_positive() -> None:
    with pytest.raises(SearchError, match="startup_trials"):
        SearchSettings("s", startup_trials=0)
