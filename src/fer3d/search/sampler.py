"""A sampler reseeded by trial number: reproducible for one worker, distinct across many.

Optuna's samplers keep one RNG per process. Two workers started with the same ``--seed`` (the same
command on two machines) would then draw the same parameters, and a restarted search would replay its
first draws. Trial numbers are unique in a study, so seeding each trial's draws with ``(seed, number)``
gives every trial its own draws, and the same study history gives the same parameters. TPE and random
search keep no state besides the RNG (history is read from the study), so a fresh inner sampler per
trial changes nothing else.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

SAMPLERS = ("tpe", "random")


def make_sampler(name: str, seed: int, startup_trials: int = 10) -> BaseSampler:
    """``startup_trials``: TPE's random trials before it models the history (Optuna's default is 10)."""
    if name == "tpe":
        return TrialSeededSampler(lambda s: _tpe(s, startup_trials), seed)
    if name == "random":
        return TrialSeededSampler(lambda s: optuna.samplers.RandomSampler(seed=s), seed)
    raise ValueError(f"unknown sampler {name!r}; choose one of {list(SAMPLERS)}")


def _tpe(seed: int, startup_trials: int) -> BaseSampler:
    with warnings.catch_warnings():  # multivariate and constant_liar are "experimental" in Optuna
        warnings.simplefilter("ignore")
        # constant_liar: running trials count as bad guesses, so parallel workers spread out.
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup_trials, multivariate=True, constant_liar=True
        )


class TrialSeededSampler(BaseSampler):
    def __init__(self, factory: Callable[[int], BaseSampler], seed: int) -> None:
        self._factory = factory
        self._seed = seed
        self._inner = factory(seed)

    def _trial_seed(self, number: int) -> int:
        return int(hashlib.sha256(f"{self._seed}/{number}".encode()).hexdigest()[:8], 16)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._inner = self._factory(self._trial_seed(trial.number))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()
