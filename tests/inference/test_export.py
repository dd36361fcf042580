"""ONNX export: onnxruntime matches PyTorch within 1e-4 on the same clips; the ONNX path needs no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fer3d.inference.classifier import OnnxClassifier, TorchClassifier, model_input
from fer3d.inference.export import PARITY_TOLERANCE, export_onnx
from fer3d.inference.model_dir import ModelFolderError, read_model_info

from .conftest import tiny_config


@pytest.fixture(scope="module")
def exported(tiny_model):
    path, difference = export_onnx(tiny_model)
    assert path.is_file() and difference <= PARITY_TOLERANCE
    return tiny_model


def test_parity_on_the_cached_clips(exported, tiny_store):
    info = read_model_info(exported)
    clips = np.stack([model_input(c, info) for c in tiny_store.clips(clahe=False)])
    torch_probs = TorchClassifier(exported).predict(clips)
    onnx_probs = OnnxClassifier(exported).predict(clips)
    assert torch_probs.shape == (len(tiny_store), 3)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=PARITY_TOLERANCE, rtol=0)
    np.testing.assert_allclose(onnx_probs.sum(axis=1), 1.0, atol=1e-5)


def test_parity_with_normalisation_and_clahe(tiny_store, tmp_path):
    """normalize=True runs inside the ONNX graph; CLAHE runs in numpy before both backends."""
    from fer3d.inference.final import train_final

    config = tiny_config(**{"input.normalize": True, "input.clahe": True, "model.pooling": "max"})
    folder = train_final(tiny_store, config, tmp_path / "norm", progress=False)
    export_onnx(folder)
    info = read_model_info(folder)
    rng = np.random.default_rng(3)
    crops = rng.integers(0, 256, size=(5, info.frames, 32, 32), dtype=np.uint8)
    clips = np.stack([model_input(c, info) for c in crops])
    np.testing.assert_allclose(
        OnnxClassifier(folder).predict(clips),
        TorchClassifier(folder).predict(clips),
        atol=PARITY_TOLERANCE,
        rtol=0,
    )


def test_missing_onnx_file_says_how_to_make_it(tiny_model, tmp_path):
    import shutil

    folder = shutil.copytree(tiny_model, tmp_path / "copy")
    (folder / "model.onnx").unlink(missing_ok=True)
    with pytest.raises(ModelFolderError, match="fer3d export"):
        OnnxClassifier(folder)


def test_onnx_classifier_runs_without_torch(exported, tiny_store):
    """Blocks ``import torch`` in a fresh interpreter: the ONNX predictor must not need it."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from fer3d.inference.classifier import OnnxClassifier, model_input\n"
        f"clf = OnnxClassifier({str(exported)!r})\n"
        f"clips = np.load({str(tiny_store.path / 'raw.npy')!r})[:2]\n"
        "p = clf.predict(np.stack([model_input(c, clf.info) for c in clips]))\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print(p.shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 3)"


@pytest.fixture(scope="module")
def ensemble_model(tiny_store, tmp_path_factory):
    """Two members, mirror test-time augmentation and EMA weights: what prediction must reproduce."""
    from fer3d.inference.final import train_final

    config = tiny_config(**{"test.ensemble": 2, "test.mirror": True, "train.ema_decay": 0.9})
    return train_final(tiny_store, config, tmp_path_factory.mktemp("ens") / "model", progress=False)


def test_prediction_averages_members_and_mirrors_as_evaluation_does(ensemble_model, tiny_store):
    """TorchClassifier's probabilities equal the mean over members of ``predict_proba`` (the function
    cross-validation scores with, mirror included): evaluate, train and predict agree."""
    import torch

    from fer3d.inference.model_dir import load_members
    from fer3d.training import predict_proba
    from fer3d.training.recipe import choose_recipe

    models, info = load_members(ensemble_model)
    clips = np.stack([model_input(c, info) for c in tiny_store.clips(clahe=False)])
    recipe = choose_recipe(info.config, "cpu")
    expected = np.mean([predict_proba(m, torch.from_numpy(clips), info.config, recipe) for m in models], 0)
    got = TorchClassifier(ensemble_model).predict(clips)
    assert got.shape == (len(tiny_store), len(info.class_names))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert got.argmax(1).tolist() == expected.argmax(1).tolist()


def test_mirror_averages_a_clip_and_its_mirror(ensemble_model, tiny_store):
    from fer3d.inference.head import ProbabilityHead
    from fer3d.inference.model_dir import load_members

    models, info = load_members(ensemble_model)
    clips = np.stack([model_input(c, info) for c in tiny_store.clips(clahe=False)])[:4]
    import torch

    batch = torch.from_numpy(clips).float() / 255
    plain = ProbabilityHead(models, info.config.input.normalize).eval()
    mirrored = ProbabilityHead(models, info.config.input.normalize, mirror=True).eval()
    with torch.no_grad():
        expected = (plain(batch) + plain(batch.flip(-1))) / 2
        np.testing.assert_allclose(mirrored(batch).numpy(), expected.numpy(), atol=1e-6)


def test_onnx_export_of_an_ensemble_with_mirror_keeps_parity(ensemble_model, tiny_store):
    path, difference = export_onnx(ensemble_model)
    assert difference <= PARITY_TOLERANCE
    info = read_model_info(ensemble_model)
    clips = np.stack([model_input(c, info) for c in tiny_store.clips(clahe=False)])
    torch_probs = TorchClassifier(ensemble_model).predict(clips)
    onnx_probs = OnnxClassifier(ensemble_model).predict(clips)
    assert onnx_probs.shape == torch_probs.shape == (len(tiny_store), 3)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=PARITY_TOLERANCE, rtol=0)
    assert onnx_probs.argmax(1).tolist() == torch_probs.argmax(1).tolist()
