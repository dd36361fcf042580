"""Model folders: round trip, and clear errors naming the file for foreign or corrupt folders."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from fer3d.data.prepare import PrepareConfig
from fer3d.inference.model_dir import (
    CONFIG,
    LABELS,
    MARKER,
    WEIGHTS,
    ModelFolderError,
    load_model,
    read_model_info,
    save_model_dir,
)
from fer3d.models import build_model

from .conftest import CLASSES, tiny_config


@pytest.fixture
def saved(tmp_path):
    """A model with non-default batch-norm statistics, saved; returns (model, folder)."""
    config = tiny_config()
    torch.manual_seed(1)
    model = build_model(config, len(CLASSES), 1)
    model.train()
    with torch.no_grad():  # one forward pass in train mode moves the running statistics
        model(torch.rand(4, 1, config.input.frames, config.input.size, config.input.size))
    model.eval()
    folder = save_model_dir(
        tmp_path / "model", model, config, CLASSES, PrepareConfig(size=32, faces="none"), in_channels=1
    )
    return model, folder


def test_round_trip_gives_the_same_outputs(saved):
    model, folder = saved
    loaded, info = load_model(folder)
    clips = torch.rand(3, 1, info.frames, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(clips), loaded(clips))
    assert info.class_names == CLASSES
    assert info.config == tiny_config()
    assert info.preprocess == PrepareConfig(size=32, faces="none")


def test_info_is_read_without_weights(saved):
    _, folder = saved
    (folder / WEIGHTS).unlink()
    assert read_model_info(folder).num_classes == len(CLASSES)
    with pytest.raises(ModelFolderError, match=WEIGHTS):
        load_model(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelFolderError, match="does not exist"):
        read_model_info(tmp_path / "nowhere")


def test_foreign_folder_names_the_marker(tmp_path):
    """A cross-validation run folder also holds a config.json; it is not a model folder."""
    tiny_config().to_json(tmp_path / CONFIG)
    with pytest.raises(ModelFolderError, match=MARKER):
        read_model_info(tmp_path)


def test_foreign_marker(saved):
    _, folder = saved
    (folder / MARKER).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFolderError, match="not a fer3d model marker"):
        read_model_info(folder)


@pytest.mark.parametrize("name", [CONFIG, LABELS, MARKER])
def test_corrupt_json_names_the_file(saved, name):
    _, folder = saved
    (folder / name).write_text("{not json")
    with pytest.raises(ModelFolderError, match=name.replace(".", r"\.")) as err:
        read_model_info(folder)
    assert "not valid JSON" in str(err.value)


def test_corrupt_weights_name_the_file(saved):
    _, folder = saved
    (folder / WEIGHTS).write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFolderError, match=WEIGHTS):
        load_model(folder)


def test_pickled_weights_are_never_unpickled(saved, tmp_path):
    """A pickle in place of the safetensors file is rejected, and the code in it never runs."""
    _, folder = saved
    marker = tmp_path / "pickle-ran"

    class Evil:
        def __reduce__(self):
            return (marker.write_text, ("ran",))

    torch.save({"x": Evil()}, folder / WEIGHTS)
    with pytest.raises(ModelFolderError, match=WEIGHTS):
        load_model(folder)
    assert not marker.exists()


def test_weights_that_do_not_fit_the_config(saved):
    _, folder = saved
    config = json.loads((folder / CONFIG).read_text())
    config["model"]["width"] = 0.25
    (folder / CONFIG).write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="do not fit"):
        load_model(folder)


def test_labels_must_match_the_class_count(saved):
    _, folder = saved
    (folder / LABELS).write_text(json.dumps({"class_names": ["a", "b"]}))
    with pytest.raises(ModelFolderError, match=MARKER):
        read_model_info(folder)


def test_save_replaces_atomically(saved, tmp_path):
    model, folder = saved
    copy = shutil.copytree(folder, tmp_path / "copy")
    save_model_dir(copy, model, tiny_config(), CLASSES, PrepareConfig(size=32), in_channels=1)
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in folder.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert (copy / WEIGHTS).read_bytes() == (folder / WEIGHTS).read_bytes()


def test_an_ensemble_round_trips_every_member(tmp_path):
    from fer3d.inference.model_dir import load_members

    config = tiny_config(**{"test.ensemble": 2})
    members = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        members.append(build_model(config, len(CLASSES), 1).eval())
    prep = PrepareConfig(size=32, faces="none")
    folder = save_model_dir(tmp_path / "ens", members, config, CLASSES, prep, in_channels=1)
    marker = json.loads((folder / MARKER).read_text())
    assert marker["members"] == 2 and marker["version"] == 2
    loaded, info = load_members(folder)
    assert info.members == 2 and len(loaded) == 2
    clips = torch.rand(2, 1, info.frames, 32, 32)
    with torch.no_grad():
        for model, again in zip(members, loaded, strict=True):
            assert torch.equal(model(clips), again(clips))
    with pytest.raises(ModelFolderError, match="ensemble of 2"):
        load_model(folder)


def test_a_single_model_folder_keeps_the_first_format(saved):
    """Folders written before ensembles existed (version 1, unprefixed keys) are what one model still
    writes, so both old and new readers load them."""
    _, folder = saved
    marker = json.loads((folder / MARKER).read_text())
    assert marker["version"] == 1 and "members" not in marker
    assert read_model_info(folder).members == 1


def test_an_ensemble_with_foreign_keys_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    from fer3d.inference.model_dir import load_members

    config = tiny_config()
    torch.manual_seed(1)
    models = [build_model(config, len(CLASSES), 1) for _ in range(2)]
    prep = PrepareConfig(size=32, faces="none")
    folder = save_model_dir(tmp_path / "ens", models, config, CLASSES, prep, in_channels=1)
    save_file({"member7.x": torch.zeros(1)}, str(folder / WEIGHTS))
    with pytest.raises(ModelFolderError, match="member7.x"):
        load_members(folder)
