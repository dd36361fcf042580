from __future__ import annotations

import optuna
import pytest

from fer3d.config import ExperimentConfig
from fer3d.presets import PRESETS, apply_profile, get_config
from fer3d.search.space import (
    TABLE1,
    Categorical,
    Uniform,
    dimensions,
    markdown_table,
    suggest,
    warm_start_params,
)

# The paper's Table 1, written out independently of the code.
PAPER_TABLE1 = {
    "optimizer": ("train.optimizer", {"adam", "lookahead_adam"}),
    "clahe": ("input.clahe", {True, False}),
    "normalize": ("input.normalize", {True, False}),
    "activation": ("model.activation", {"relu", "elu", "prelu", "leaky_relu", "mish"}),
    "class_weights": ("train.class_weights", {True, False}),
    "temporal_kernel": ("model.temporal_kernel", {1, 3, 5, 7, 9}),
    "init": ("model.init", {"xavier_uniform", "xavier_normal"}),
    "pooling": ("model.pooling", {"avg", "max"}),
    "extra_block": ("model.extra_block", {True, False}),
}


def test_space_is_exactly_table1() -> None:
    categorical = {d.name: (d.field, set(d.choices)) for d in TABLE1 if isinstance(d, Categorical)}
    assert categorical == PAPER_TABLE1
    floats = [d for d in TABLE1 if isinstance(d, Uniform)]
    assert [(d.name, d.field, d.low, d.high, d.log) for d in floats] == [
        ("dropout", "model.dropout", 0.0, 1.0, False)
    ]
    assert len(TABLE1) == len(PAPER_TABLE1) + 1
    assert dimensions() == TABLE1


def test_learning_rate_is_off_by_default_and_switchable() -> None:
    trial = optuna.trial.FixedTrial({d.name: _any_value(d) for d in dimensions(search_lr=True)})
    assert "train.lr" not in suggest(trial)
    assert suggest(trial, search_lr=True)["train.lr"] == pytest.approx(1e-3)
    assert "| lr |" in markdown_table(search_lr=True) and "| lr |" not in markdown_table()


def test_every_sampled_point_is_a_valid_config() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    base = ExperimentConfig()
    for _ in range(30):
        trial = study.ask()
        config = base.with_overrides(suggest(trial))
        assert 0.0 <= config.model.dropout <= 1.0
        study.tell(trial, 0.0)


def _any_value(dim: Categorical | Uniform) -> object:
    if isinstance(dim, Categorical):
        return dim.choices[0]
    return 1e-3 if dim.log else 0.5


def test_paper_space_is_the_default_and_extended_is_opt_in() -> None:
    assert dimensions(space="paper") == TABLE1
    assert markdown_table() == markdown_table(space="paper")
    with pytest.raises(ValueError, match="unknown search space"):
        dimensions(space="wide")


def test_extended_space_adds_the_papers_fixed_choices() -> None:
    extended = {d.name: d for d in dimensions(space="extended")}
    paper = {d.name: d for d in TABLE1}
    assert set(paper) < set(extended)
    assert all(extended[n] == paper[n] for n in paper if n != "optimizer")
    assert set(paper["optimizer"].choices) < set(extended["optimizer"].choices)
    added = {extended[n].field for n in set(extended) - set(paper)}
    assert added == {
        "train.lr",
        "train.weight_decay",
        "train.epochs",
        "input.size",
        "model.width",
        "train.label_smoothing",
        "train.ema_decay",
        "train.mix",
        "model.temporal_head",
    }


def test_every_extended_point_is_a_valid_config() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    base = ExperimentConfig()
    heads = set()
    for _ in range(40):
        trial = study.ask()
        config = base.with_overrides(suggest(trial, space="extended"))
        heads.add(config.model.temporal_head)
        study.tell(trial, 0.0)
    assert heads == {"none", "lstm", "attention"}


@pytest.mark.parametrize("space", ["paper", "extended"])
@pytest.mark.parametrize("profile", ["full", "cpu"])
def test_warm_start_params_are_the_presets_on_the_profile(space: str, profile: str) -> None:
    base = get_config("ckplus-paper", profile)
    params = warm_start_params(base, PRESETS, space=space)
    assert set(params) == set(PRESETS)
    for name, preset in PRESETS.items():
        trial = optuna.trial.FixedTrial(params[name])
        config = base.with_overrides(suggest(trial, space=space))
        expected = apply_profile(preset, profile)
        assert config == expected, name
        if space == "paper":
            assert set(params[name]) == {d.name for d in TABLE1}


def test_warm_start_leaves_out_values_outside_the_space() -> None:
    base = get_config("ckplus-paper", "tiny")  # 2 epochs: not among the extended epoch choices
    params = warm_start_params(base, PRESETS, space="extended")["oulu-paper"]
    assert "epochs" not in params
    assert params["size"] == 32 and params["width"] == 0.125 and params["pooling"] == "max"
