"""``--init``, ``--ensemble`` and ``--profile auto`` on the commands that train, through ``fer3d.cli.main`` in
this process (``test_model_cmds`` runs train, predict and export with them in a subprocess)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fer3d.cli.common import resolve_config
from fer3d.presets import get_config, resolve_profile
from inference.conftest import tiny_config, write_tiny_store

TINY = ["--profile", "tiny", "--set", "input.clahe=false", "--set", "train.precision=fp32"]


def test_auto_profile_follows_the_device(monkeypatch):
    import torch

    assert resolve_profile("auto", "cpu") == ("cpu", "auto: --device cpu")
    assert resolve_profile("auto", "cuda:1")[0] == "full"
    assert resolve_profile("tiny", "cuda") == ("tiny", "as given")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_profile("auto") == ("cpu", "auto: no GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Test GPU")
    assert resolve_profile("auto") == ("full", "auto: GPU Test GPU")


def test_resolve_config_prints_the_profile_and_sets_the_ensemble(capsys, tmp_path):
    config = resolve_config(None, None, "auto", ["train.epochs=3"], device="cpu", ensemble=3)
    assert config == get_config("ckplus-paper", "cpu", {"train.epochs": 3, "test.ensemble": 3})
    assert capsys.readouterr().out == "profile: cpu (auto: --device cpu)\n"
    path = tmp_path / "best.json"
    tiny_config().to_json(path)
    assert resolve_config(None, path, "auto", None, device="cpu") == tiny_config()  # used as written
    assert "as in the config file" in capsys.readouterr().out
    assert resolve_config(None, path, "cpu", None, announce=False) != tiny_config()


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny cache and a model folder trained on it (in-process: the CLI runs are what is tested)."""
    from fer3d.inference.final import train_final

    root = tmp_path_factory.mktemp("opts")
    store = write_tiny_store(root / "cache")
    model = train_final(store, tiny_config(), root / "model", progress=False)
    return store.path, model


def cli(capsys, *args) -> tuple[int, str, str]:
    """``fer3d ARGS`` in this process (for the quick cases; the others run a subprocess)."""
    from fer3d.cli import main

    argv = sys.argv
    sys.argv = ["fer3d", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out, out.err


def test_evaluate_with_init_and_ensemble(setup, tmp_path, capsys):
    """The options reach the run (determinism for a seed is tested on the library side)."""
    cache, model = setup
    args = ["evaluate", cache, *TINY, "--set", "train.epochs=1", "--k", "2", "--workers", "1"]
    code, out, err = cli(capsys, *args, "--ensemble", "2", "--init", model, "-o", tmp_path / "r")
    assert code == 0, err
    assert out.startswith("profile: tiny (as given)")
    header = json.loads((tmp_path / "r" / "run.json").read_text())
    assert header["init"]["model_dir"] == str(model) and header["config"]["test"]["ensemble"] == 2
    rows = json.loads((tmp_path / "r" / "predictions.json").read_text())
    assert len(rows) == 12 and all(len(row["probabilities"]) == 3 for row in rows)


def test_init_of_another_architecture_is_a_clear_error(setup, tmp_path, capsys):
    cache, model = setup
    args = ["evaluate", cache, *TINY, "--set", "model.width=0.25", "--k", "2", "--init", model]
    code, _, err = cli(capsys, *args, "-o", tmp_path / "r")
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"fer3d: error: {model / 'model.safetensors'}: ") and "model.width" in err
    assert len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "r").glob("folds/*.json"))  # refused before any training


def test_init_that_is_not_a_model_folder_is_a_clear_error(setup, tmp_path, capsys):
    cache, _ = setup
    code, _, err = cli(capsys, "train", cache, *TINY, "--init", tmp_path, "-o", tmp_path / "m")
    assert code == 2 and err.startswith(f"fer3d: error: {tmp_path / 'fer3d-model.json'}: missing")
    assert not (tmp_path / "m").exists()


def test_too_many_folds_is_a_clear_error(setup, tmp_path, capsys):
    cache, _ = setup
    code, _, err = cli(capsys, "evaluate", cache, *TINY, "--k", "10", "-o", tmp_path / "r")
    assert code == 2 and "Traceback" not in err and "k=10" in err


def test_auto_profile_is_the_default_and_printed(setup, tmp_path, capsys):
    cache, _ = setup
    args = ["train", cache, "--set", "train.epochs=1", "--set", "input.clahe=false", "--device", "cpu"]
    code, out, err = cli(capsys, *args, "-o", tmp_path / "m")
    assert code == 0, err
    assert out.startswith("profile: cpu (auto: --device cpu)")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["input"]["size"] == 40  # cpu profile


def test_search_with_init(setup, tmp_path, capsys):
    cache, model = setup
    args = ["search", cache, "--study", "s", "--n-trials", "1", "--protocol", "kfold", "--k", "2"]
    args += [*TINY, "--set", "train.epochs=1", "--threshold", "0", "--jobs", "1", "--init", model]
    code, out, err = cli(capsys, *args, "--ensemble", "2", "-o", tmp_path / "search")
    assert code == 0, err
    assert out.startswith("profile: tiny (as given)") and "1 complete" in out
    (run,) = (tmp_path / "search" / "trials").iterdir()
    header = json.loads((run / "run.json").read_text())
    assert header["init"]["model_dir"] == str(model) and header["config"]["test"]["ensemble"] == 2


def test_transfer_with_init(setup, tmp_path, capsys):
    cache, model = setup
    args = ["transfer", "--source-cache", cache, "--target-cache", cache, *TINY, "--set", "train.epochs=1"]
    code, out, err = cli(capsys, *args, "--k", "2", "--init", model, "-o", tmp_path / "t")
    assert code == 0, err
    assert out.startswith("profile: tiny (as given)")
    for arm in ("scratch", "finetuned"):
        assert json.loads((tmp_path / "t" / arm / "run.json").read_text())["init"]["model_dir"] == str(model)
