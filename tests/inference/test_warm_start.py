"""``--init MODEL_DIR``: weights copied, the head mapped by class name, mismatches named clearly."""

from __future__ import annotations

import pytest
import torch

from fer3d.data.prepare import PrepareConfig
from fer3d.evaluation.head_transfer import head_layer
from fer3d.inference.model_dir import WEIGHTS, ModelFolderError, save_model_dir
from fer3d.inference.warm_start import WarmStart
from fer3d.models import build_model
from fer3d.presets import get_config

CONFIG = get_config("ckplus-paper", "tiny", {"input.size": 24, "train.precision": "fp32"})
CLASSES = ("anger", "happy", "surprise")


def saved_folder(path, config=CONFIG, classes=CLASSES, members=1, channels=1):
    models = []
    for m in range(members):
        torch.manual_seed(100 + m)
        model = build_model(config, len(classes), channels)
        with torch.no_grad():  # as if trained: every weight, head included, away from its fresh value
            for value in model.state_dict().values():
                if value.is_floating_point():
                    value.normal_()
        models.append(model)
    save_model_dir(path, models, config, classes, PrepareConfig(size=24, faces="none"), in_channels=channels)
    return models


def fresh(config=CONFIG, classes=CLASSES, seed=0):
    torch.manual_seed(seed)
    model = build_model(config, len(classes), 1)
    with torch.no_grad():  # a non-zero fresh head, so that rows left fresh are told from copied ones
        model.classifier[-1].weight.normal_()
    return model


def test_same_classes_copy_every_weight(tmp_path):
    (source,) = saved_folder(tmp_path / "m")
    warm = WarmStart.from_model_dir(tmp_path / "m")
    warm.check_fits(CONFIG, 1)
    model = fresh()
    warm.apply(model, 0, class_names=CLASSES)
    theirs, ours = source.state_dict(), model.state_dict()
    assert all(torch.equal(theirs[k], ours[k]) for k in theirs)


def test_other_classes_keep_the_shared_rows_and_start_the_rest_fresh(tmp_path):
    (source,) = saved_folder(tmp_path / "m")
    target = ("happiness", "contempt", "anger", "fear")
    model = fresh(classes=target)
    before = model.state_dict()[f"{head_layer(model)}.weight"].clone()
    WarmStart.from_model_dir(tmp_path / "m").apply(model, 0, class_names=target)
    head = head_layer(model)
    weight, source_weight = model.state_dict()[f"{head}.weight"], source.state_dict()[f"{head}.weight"]
    assert torch.equal(weight[0], source_weight[1])  # happiness <- happy
    assert torch.equal(weight[2], source_weight[0])  # anger <- anger
    assert torch.equal(weight[1], before[1]) and torch.equal(weight[3], before[3])  # fresh rows
    body = [k for k in source.state_dict() if not k.startswith(head + ".")]
    assert all(torch.equal(source.state_dict()[k], model.state_dict()[k]) for k in body)


def test_no_class_in_common_starts_the_whole_head_fresh(tmp_path):
    saved_folder(tmp_path / "m")
    model = fresh(classes=("a", "b"))
    head = f"{head_layer(model)}.weight"
    before = model.state_dict()[head].clone()
    WarmStart.from_model_dir(tmp_path / "m").apply(model, 0, class_names=("a", "b"))
    assert torch.equal(model.state_dict()[head], before)


def test_ensemble_members_start_from_the_members_in_turn(tmp_path):
    sources = saved_folder(tmp_path / "m", members=2)
    warm = WarmStart.from_model_dir(tmp_path / "m")
    assert warm.members == 2
    for member in range(3):
        model = fresh()
        warm.apply(model, member, class_names=CLASSES)
        key = next(iter(model.state_dict()))
        assert torch.equal(model.state_dict()[key], sources[member % 2].state_dict()[key])


@pytest.mark.parametrize(
    "override,named",
    [
        ({"model.width": 0.25}, "model.width"),
        ({"input.size": 32}, "input.size"),
        ({"model.temporal_kernel": 5}, "model.temporal_kernel"),
        ({"model.activation": "prelu"}, "model.activation"),
    ],
)
def test_another_architecture_is_a_clear_error(tmp_path, override, named):
    saved_folder(tmp_path / "m")
    warm = WarmStart.from_model_dir(tmp_path / "m")
    with pytest.raises(ModelFolderError) as err:
        warm.check_fits(CONFIG.with_overrides(override), 1)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "m" / WEIGHTS)) and named in message
    assert "--config" in message  # says how to fix it


def test_other_colour_channels_are_a_clear_error(tmp_path):
    saved_folder(tmp_path / "m")
    with pytest.raises(ModelFolderError, match="colour channels 1 there, 3 here"):
        WarmStart.from_model_dir(tmp_path / "m").check_fits(CONFIG, 3)


def test_choices_that_keep_the_shapes_may_differ(tmp_path):
    saved_folder(tmp_path / "m")
    overrides = {"train.lr": 1e-4, "model.dropout": 0.1, "model.activation": "elu", "model.pooling": "max"}
    WarmStart.from_model_dir(tmp_path / "m").check_fits(CONFIG.with_overrides(overrides), 1)


def test_not_a_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFolderError, match="does not exist"):
        WarmStart.from_model_dir(tmp_path / "nowhere")
