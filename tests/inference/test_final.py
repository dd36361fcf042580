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
