"""``fer3d train``, ``fer3d export`` and ``fer3d predict`` run as a user runs them: in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.conftest import square_video, write_tiny_store

pytestmark = pytest.mark.slow


def fer3d(*args: str, block_torch: bool = False) -> subprocess.CompletedProcess:
    prelude = "import sys; sys.modules['torch'] = None; " if block_torch else ""
    code = prelude + "sys.argv[0] = 'fer3d'; from fer3d.cli import main; main()"
    if not block_torch:
        code = "import sys; " + code
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, cwd=Path.cwd()
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    store = write_tiny_store(root / "cache")
    model = root / "model"
    done = fer3d(
        "train", str(store.path), "--profile", "tiny", "--set", "input.clahe=false", "-o", str(model)
    )
    assert done.returncode == 0, done.stderr
    assert f"model: {model}" in done.stdout
    return model


def test_train_export_predict(trained, tmp_path):
    done = fer3d("export", str(trained), "--onnx")
    assert done.returncode == 0, done.stderr
    assert (trained / "model.onnx").is_file() and "largest difference" in done.stdout
    video = square_video(tmp_path / "clip.mp4", n=24)
    out = tmp_path / "pred"
    args = [
        "predict",
        str(video),
        "--model",
        str(trained),
        "-o",
        str(out),
        "--stride",
        "2",
        "--smooth",
        "median",
    ]
    done = fer3d(*args, "--onnx", block_torch=True)  # the ONNX predictor needs no torch
    assert done.returncode == 0, done.stderr
    assert "24 frames" in done.stdout and "face in 100.0% of frames" in done.stdout
    payload = json.loads((out / "windows.json").read_text())
    assert payload["backend"] == "onnxruntime" and len(payload["windows"]) == 8
    for name in ("windows.csv", "frames.csv", "timeline.png", "annotated.mp4"):
        assert (out / name).stat().st_size > 0


def test_corrupt_model_folder_is_a_clear_error(
    trained,
    tmp_path,
):
    import shutil

    broken = shutil.copytree(trained, tmp_path / "broken")
    (broken / "labels.json").write_text("[oops")
    video = square_video(tmp_path / "clip.mp4", n=12)
    done = fer3d("predict", str(video), "--model", str(broken))
    assert done.returncode == 2
    assert "fer3d: error:" in done.stderr and "labels.json" in done.stderr and "Traceback" not in done.stderr


def test_camera_without_device_is_a_clear_error(trained):
    done = fer3d("predict", "--camera", "97", "--model", str(trained))
    assert done.returncode == 2 and "camera 97" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["predict", "--model", "m"], "either a VIDEO file or --camera"),
        (["predict", "v.mp4", "--smooth", "mean"], "--smooth must be one of"),
        (["export", "m"], "--onnx"),
    ],
)
def test_usage_errors(args, message):
    done = fer3d(*args)
    assert done.returncode == 2 and message in done.stderr


def test_ensemble_with_mirror_and_init_trains_predicts_and_exports(trained, tmp_path):
    """`train --ensemble 2 --init` with mirror TTA: every member saved, exported in one ONNX graph that
    predicts without torch (its parity with PyTorch, labels included: test_export)."""
    cache = trained.parent / "cache"
    model = tmp_path / "ensemble"
    done = fer3d(
        "train",
        str(cache),
        "--profile",
        "tiny",
        "--set",
        "input.clahe=false",
        "--set",
        "test.mirror=true",
        "--ensemble",
        "2",
        "--init",
        str(trained),
        "-o",
        str(model),
    )
    assert done.returncode == 0, done.stderr
    assert "profile: tiny (as given)" in done.stdout and "trained 2 members" in done.stdout
    marker = json.loads((model / "fer3d-model.json").read_text())
    assert marker["members"] == 2 and marker["record"]["init"]["model_dir"] == str(trained)
    done = fer3d("export", str(model), "--onnx")
    assert done.returncode == 0, done.stderr
    video = square_video(tmp_path / "clip.mp4", n=20)
    out = tmp_path / "pred"
    args = ["predict", str(video), "--model", str(model), "-o", str(out), "--no-video", "--onnx"]
    done = fer3d(*args, block_torch=True)  # members and mirror run inside the ONNX graph
    assert done.returncode == 0, done.stderr
    windows = json.loads((out / "windows.json").read_text())["windows"]
    assert windows and all(w["label"] in ("anger", "happy", "surprise") for w in windows)
