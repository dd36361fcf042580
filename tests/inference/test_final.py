"""``train_final``: every clip is trained on, the folder records it, and a seed reproduces it."""

from __future__ import annotations

import json

from safetensors.numpy import load_file

from fer3d.inference.model_dir import MARKER, WEIGHTS, read_model_info

from .conftest import CLASSES, tiny_config


def test_trains_on_every_clip_and_records_it(tiny_store, tiny_model):
    info = read_model_info(tiny_model)
    assert info.class_names == CLASSES
    assert info.config == tiny_config()
    assert info.preprocess.size == tiny_store.size and info.preprocess.faces == "none"
    record = json.loads((tiny_model / MARKER).read_text())["record"]
    assert record["clips"] == len(tiny_store)
    assert record["cache_fingerprint"] == tiny_store.fingerprint
    assert len(record["epoch_losses"]) == tiny_config().train.epochs


def test_same_seed_same_weights(tiny_store, tiny_model, tmp_path):
    from fer3d.inference.final import train_final

    again = train_final(tiny_store, tiny_config(), tmp_path / "again", progress=False)
    first, second = load_file(str(tiny_model / WEIGHTS)), load_file(str(again / WEIGHTS))
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)


def test_an_ensemble_is_saved_member_by_member_and_reproducible(tiny_store, tiny_model, tmp_path):
    from fer3d.inference.final import train_final
    from fer3d.inference.model_dir import load_members

    config = tiny_config(**{"test.ensemble": 2})
    folder = train_final(tiny_store, config, tmp_path / "ens", progress=False)
    again = train_final(tiny_store, config, tmp_path / "again", progress=False)
    weights, repeat = load_file(str(folder / WEIGHTS)), load_file(str(again / WEIGHTS))
    assert weights.keys() == repeat.keys() and all((weights[k] == repeat[k]).all() for k in weights)
    single = load_file(str(tiny_model / WEIGHTS))  # member 0: the single model of the same seed
    assert all((weights[f"member0.{k}"] == single[k]).all() for k in single)
    assert any((weights[f"member1.{k}"] != single[k]).any() for k in single)
    models, info = load_members(folder)
    assert len(models) == info.members == 2
    record = json.loads((folder / MARKER).read_text())["record"]
    assert len(record["member_seeds"]) == 2 and len(record["epoch_losses"]) == config.train.epochs


def test_warm_started_training_records_its_init(tiny_store, tiny_model, tmp_path):
    from fer3d.inference.final import train_final
    from fer3d.inference.warm_start import WarmStart

    warm = WarmStart.from_model_dir(tiny_model)
    folder = train_final(tiny_store, tiny_config(), tmp_path / "warm", progress=False, warm_start=warm)
    record = json.loads((folder / MARKER).read_text())["record"]
    assert record["init"] == warm.describe()
    again = train_final(tiny_store, tiny_config(), tmp_path / "again", progress=False, warm_start=warm)
    first, second = load_file(str(folder / WEIGHTS)), load_file(str(again / WEIGHTS))
    assert all((first[k] == second[k]).all() for k in first)
    scratch = load_file(str(tiny_model / WEIGHTS))
    assert any((first[k] != scratch[k]).any() for k in first)
