import json

import pytest

from fer3d.config import (
    AugmentConfig,
    ConfigError,
    ExperimentConfig,
    ModelConfig,
    fingerprint,
    parse_overrides,
)
from fer3d.presets import PRESETS, get_config


def test_json_round_trip(tmp_path):
    config = get_config("oulu-paper", "cpu", {"train.epochs": 3})
    path = tmp_path / "c.json"
    config.to_json(path)
    assert ExperimentConfig.from_json(path) == config
    assert ExperimentConfig.from_json(path).fingerprint() == config.fingerprint()


def test_unknown_key_is_an_error(tmp_path):
    data = ExperimentConfig().to_dict()
    data["model"]["depth"] = 5
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="depth"):
        ExperimentConfig.from_json(path)


@pytest.mark.parametrize(
    "key,value",
    [
        ("model.activation", "tanh"),
        ("model.temporal_kernel", 4),
        ("model.dropout", 1.5),
        ("train.optimizer", "sgd"),
    ],
)
def test_invalid_values_are_errors(key, value):
    with pytest.raises(ConfigError):
        ExperimentConfig().with_overrides({key: value})


def test_override_unknown_key():
    with pytest.raises(ConfigError, match="unknown config key"):
        ExperimentConfig().with_overrides({"model.nope": 1})


def test_parse_overrides():
    assert parse_overrides(["train.epochs=5", "model.activation=elu", "input.clahe=false"]) == {
        "train.epochs": 5,
        "model.activation": "elu",
        "input.clahe": False,
    }
    with pytest.raises(ConfigError):
        parse_overrides(["epochs"])


def test_paper_presets_match_tables_2_and_4():
    ck, oulu = PRESETS["ckplus-paper"], PRESETS["oulu-paper"]
    assert (ck.train.optimizer, ck.input.clahe, ck.input.normalize, ck.model.activation) == (
        "adam",
        True,
        False,
        "relu",
    )
    assert (ck.train.class_weights, ck.model.temporal_kernel, ck.model.init, ck.model.pooling) == (
        False,
        3,
        "xavier_uniform",
        "avg",
    )
    assert (ck.model.extra_block, ck.model.dropout) == (False, 0.2511)
    assert (oulu.train.optimizer, oulu.input.clahe, oulu.input.normalize, oulu.model.activation) == (
        "lookahead_adam",
        False,
        True,
        "leaky_relu",
    )
    assert (oulu.train.class_weights, oulu.model.temporal_kernel, oulu.model.init, oulu.model.pooling) == (
        False,
        3,
        "xavier_normal",
        "max",
    )
    assert (oulu.model.extra_block, oulu.model.dropout) == (False, 0.4233)


def test_profiles_keep_the_searched_choices():
    full, cpu = get_config("ckplus-paper"), get_config("ckplus-paper", "cpu")
    assert cpu.model.activation == full.model.activation and cpu.model.dropout == full.model.dropout
    assert cpu.input.size < full.input.size and cpu.model.width < full.model.width


def test_model_config_validation():
    with pytest.raises(ConfigError):
        ModelConfig(width=0)


def test_augmentation_ramp_rises_linearly_then_stays_full() -> None:
    assert [AugmentConfig(ramp_epochs=4).strength(e) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert AugmentConfig().strength(0) == 1.0  # no ramp: full strength from the start


def test_negative_augmentation_ramp_is_rejected() -> None:
    with pytest.raises(ConfigError, match="ramp_epochs"):
        AugmentConfig(ramp_epochs=-1)


def test_a_field_added_later_leaves_old_fingerprints_alone_at_its_default() -> None:
    """Run folders and studies made before ``ramp_epochs`` and ``compile`` existed still match."""
    config = get_config("ckplus-paper")
    before = config.to_dict()
    del before["train"]["augment"]["ramp_epochs"]
    del before["train"]["compile"]
    assert config.fingerprint() == fingerprint(before)
    assert config.with_overrides({"train.augment.ramp_epochs": 5}).fingerprint() != config.fingerprint()
    assert config.with_overrides({"train.compile": "off"}).fingerprint() != config.fingerprint()
