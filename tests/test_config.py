import json
from pathlib import Path

import pytest

from fer3d.config import (
    AugmentConfig,
    ConfigError,
    ExperimentConfig,
    ModelConfig,
    fingerprint,
    parse_overrides,
)
from fer3d.config import to_dict as config_to_dict
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
    for key in ("label_smoothing", "warmup_epochs", "ema_decay", "mix", "mix_alpha"):
        del before["train"][key]
    del before["test"]
    before["model"].pop("temporal_head", None)
    assert config.fingerprint() == fingerprint(before)
    assert config.with_overrides({"train.augment.ramp_epochs": 5}).fingerprint() != config.fingerprint()
    assert config.with_overrides({"train.compile": "off"}).fingerprint() != config.fingerprint()


def test_fingerprints_of_the_default_config_and_the_paper_presets_are_unchanged() -> None:
    """Hashes computed before the training techniques and the test section were added: run folders,
    studies and models saved since then still match their configs."""
    assert ExperimentConfig().fingerprint() == "61f9de8d73e93832"
    assert PRESETS["ckplus-paper"].fingerprint() == "d5b682bf27516c00"
    assert PRESETS["oulu-paper"].fingerprint() == "3adcaa2057759b00"


def test_a_nested_section_counts_in_the_fingerprint_once_it_leaves_its_default() -> None:
    config = ExperimentConfig()
    assert "test" not in config_to_dict(config, omit_added_defaults=True)
    mirrored = config.with_overrides({"test.mirror": True})
    assert config_to_dict(mirrored, omit_added_defaults=True)["test"] == {"mirror": True, "ensemble": 1}
    assert mirrored.fingerprint() != config.fingerprint()
    assert "test" in config.to_dict()  # saved configs always hold every field


@pytest.mark.parametrize(
    "key,value",
    [
        ("train.label_smoothing", 1.0),
        ("train.label_smoothing", -0.1),
        ("train.warmup_epochs", 20),  # not below train.epochs (20)
        ("train.warmup_epochs", -1),
        ("train.ema_decay", 1.0),
        ("train.ema_decay", -0.5),
        ("train.mix", "blend"),
        ("train.mix_alpha", 0.0),
        ("train.optimizer", "sgdw"),
        ("train.weight_decay", -1e-4),
        ("test.ensemble", 0),
        ("test.mirror", "yes"),
    ],
)
def test_invalid_training_technique_values_are_errors(key, value):
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        ExperimentConfig().with_overrides({key: value})


def test_training_techniques_are_set_through_the_override_path():
    overrides = parse_overrides(
        [
            "train.ema_decay=0.999",
            "train.label_smoothing=0.1",
            "train.warmup_epochs=2",
            "train.mix=cutmix",
            "train.mix_alpha=1",
            "train.optimizer=lookahead_adamw",
            "test.mirror=true",
            "test.ensemble=3",
        ]
    )
    config = get_config("ckplus-paper", "cpu", overrides)
    train = config.train
    assert (train.ema_decay, train.label_smoothing, train.warmup_epochs) == (0.999, 0.1, 2)
    assert (train.mix, train.mix_alpha, train.optimizer) == ("cutmix", 1.0, "lookahead_adamw")
    assert (config.test.mirror, config.test.ensemble) == (True, 3)
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown config key"):
        config.with_overrides({"test.flip": True})


def test_to_json_failure_keeps_the_earlier_file(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    earlier = get_config("ckplus-paper", "cpu")
    earlier.to_json(path)

    def full_disk(self, text, *args, **kwargs):  # the disk fills after half the text
        with open(self, "w") as handle:
            handle.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError, match="No space"):
        get_config("oulu-paper", "cpu").to_json(path)
    monkeypatch.undo()
    assert ExperimentConfig.from_json(path) == earlier
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
