"""Transfer from a source store to a target store with different class names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fer3d.data.cache import ClipStore, write_store
from fer3d.evaluation import transfer as transfer_mod
from fer3d.evaluation.crossval import RunMismatchError, load_result
from fer3d.evaluation.head_transfer import head_layer, transfer_weights
from fer3d.evaluation.labelmap import LabelMap
from fer3d.evaluation.transfer import transfer
from fer3d.models import build_model
from fer3d.presets import get_config


def make_store(path: Path, class_names: tuple[str, ...], subjects: int, seed: int) -> ClipStore:
    """Clips whose class is a bright square growing in a class-specific corner."""
    rng = np.random.default_rng(seed)
    clips, records = [], []
    for s in range(subjects):
        for label in range(len(class_names)):
            clip = (rng.random((10, 24, 24)) * 60).astype(np.uint8)
            y, x = divmod(label, 2)
            for f in range(10):
                grow = 2 + f
                clip[f, y * 12 : y * 12 + grow, x * 12 : x * 12 + grow] = 220
            clips.append(clip)
            records.append(
                {"subject": f"P{s:03d}", "sequence_id": f"P{s:03d}/{label}", "label": label, "source": ""}
            )
    raw = np.stack(clips)
    meta = {
        "dataset": path.name,
        "fingerprint": f"fp-{path.name}-{seed}",
        "class_names": list(class_names),
        "prepare": {"color": "gray", "size": 24},
        "records": records,
    }
    return write_store(path, raw, raw, meta)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[ClipStore, ClipStore]:
    source = make_store(tmp_path / "source", ("anger", "contempt", "happy"), subjects=4, seed=1)
    target = make_store(tmp_path / "target", ("Anger", "Happiness", "Surprise"), subjects=6, seed=2)
    return source, target


def test_transfer_weights_copies_backbone_and_mapped_head_rows() -> None:
    config = get_config("ckplus-paper", "tiny")
    label_map = LabelMap.by_name(("anger", "contempt", "happy"), ("Anger", "Happiness", "Surprise"))
    torch.manual_seed(0)
    source = build_model(config, 3, 1)
    torch.nn.init.normal_(source.classifier[-1].weight)  # a trained head (fresh heads are zero-initialised)
    torch.manual_seed(1)
    target = build_model(config, 3, 1)
    state = source.state_dict()
    transfer_weights(state, target, label_map)
    head = head_layer(target)
    new = target.state_dict()
    for key in state:
        if not key.startswith(head + "."):
            assert torch.equal(new[key], state[key]), key
    w = f"{head}.weight"
    assert torch.equal(new[w][0], state[w][0])  # anger <- anger
    assert torch.equal(new[w][1], state[w][2])  # Happiness <- happy
    assert not torch.equal(new[w][2], state[w][1])  # Surprise: fresh row, not contempt's


def test_transfer_both_arms_same_folds_drops_unmapped_and_resumes(
    stores, tmp_path: Path, monkeypatch
) -> None:
    source, target = stores
    config = get_config("ckplus-paper", "tiny")
    out = tmp_path / "transfer"
    result = transfer(source, target, config, k=3, out_dir=out, device="cpu", progress=False)
    surprise = target.class_names.index("Surprise")
    assert result.dropped == int((target.labels == surprise).sum()) == 6
    scratch, tuned = result.arms["scratch"], result.arms["finetuned"]
    assert [sorted(f.test_indices) for f in scratch.folds] == [sorted(f.test_indices) for f in tuned.folds]
    for arm in (scratch, tuned):
        assert len(arm.tested) == len(target) - 6 and len(set(arm.tested.tolist())) == len(arm.tested)
        assert surprise not in target.labels[arm.tested]
        assert surprise not in arm.predictions
        for fold in arm.folds:  # subjects never on both sides
            test_subjects = set(target.subjects[fold.test_indices].tolist())
            train = np.setdiff1d(arm.tested, fold.test_indices)
            assert not test_subjects & set(target.subjects[train].tolist())
    rows = result.table6_rows()
    assert [r["arm"] for r in rows] == ["scratch", "finetuned"] and all(
        0 <= r["pooled_accuracy"] <= 1 for r in rows
    )
    assert (out / "transfer.json").exists() and (out / "pretrained.pt").exists()
    assert load_result(out / "finetuned").pooled_accuracy == pytest.approx(tuned.pooled_accuracy)

    def no_training(*args, **kwargs):
        raise AssertionError("a finished fold or the pre-training was recomputed")

    monkeypatch.setattr(transfer_mod, "fit", no_training)
    monkeypatch.setattr(transfer_mod, "train_and_predict", no_training)
    again = transfer(source, target, config, k=3, out_dir=out, device="cpu", progress=False)
    assert again.arms["finetuned"].pooled_accuracy == pytest.approx(tuned.pooled_accuracy)


def test_transfer_refuses_different_colour_modes(stores, tmp_path: Path) -> None:
    source, target = stores
    rgb = ClipStore(target.path, {**target.meta, "prepare": {"color": "rgb", "size": 24}})
    with pytest.raises(ValueError, match="channel"):
        transfer(source, rgb, get_config("ckplus-paper", "tiny"), k=3, progress=False)


def test_init_starts_the_pretraining_and_the_scratch_arm_from_a_model_folder(
    stores, tmp_path: Path, monkeypatch
) -> None:
    from fer3d.inference.final import train_final
    from fer3d.inference.warm_start import WarmStart

    source, target = stores
    config = get_config("ckplus-paper", "tiny")
    warm = WarmStart.from_model_dir(train_final(target, config, tmp_path / "init", progress=False))
    applied = []
    real_apply = WarmStart.apply

    def apply(self, model, member, *, class_names):
        applied.append(class_names)
        real_apply(self, model, member, class_names=class_names)

    monkeypatch.setattr(WarmStart, "apply", apply)
    out = tmp_path / "transfer"
    transfer(source, target, config, k=2, out_dir=out, device="cpu", progress=False, warm_start=warm)
    assert applied == [target.class_names] * 2 + [source.class_names]  # 2 scratch folds, 1 pre-training
    assert json.loads((out / "scratch" / "run.json").read_text())["init"] == warm.describe()
    assert json.loads((out / "pretrained.json").read_text())["init"] == warm.describe()
    with pytest.raises(RunMismatchError, match="init differs"):
        transfer(source, target, config, k=2, out_dir=out, device="cpu", progress=False)
