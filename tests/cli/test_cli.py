"""The CLI through a subprocess, as a user runs it."""

import json
import subprocess
import sys

import pytest

from fer3d.data.cache import ClipStore

FER3D = [sys.executable, "-c", "from fer3d.cli import main; main()"]


def run(*args, check=True):
    proc = subprocess.run([*FER3D, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"fer3d {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_help_lists_commands():
    out = run("--help").stdout
    for command in ("synth", "prepare", "evaluate"):
        assert command in out


def test_prepare_then_evaluate(fake_ckplus, tmp_path):
    out = run("prepare", fake_ckplus, "-o", tmp_path / "cache", "--size", "24", "--workers", "1").stdout
    cache = out.strip().splitlines()[-1].removeprefix("cache: ")
    assert len(ClipStore.open(cache)) == 18
    result = run(
        "evaluate",
        cache,
        "--preset",
        "ckplus-paper",
        "--profile",
        "tiny",
        "--set",
        "input.size=24",
        "--protocol",
        "kfold",
        "--k",
        "3",
        "-o",
        tmp_path / "run",
    ).stdout
    assert "pooled accuracy" in result and "confusion matrix" in result
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_tested"] == 18
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["input"]["size"] == 24 and saved["model"]["dropout"] == 0.2511


@pytest.mark.parametrize(
    "args,message",
    [
        (["prepare", "{missing}"], "not a CK+ dataset"),
        (["evaluate", "{missing}"], "not a fer3d clip cache"),
        (["evaluate", "{cache}", "--set", "model.depth=3"], "unknown config key"),
        (["evaluate", "{cache}", "--preset", "nope"], "unknown preset"),
    ],
)
def test_errors_are_one_clear_line(fake_ckplus, tmp_path, args, message):
    (tmp_path / "missing").mkdir()
    cache = run("prepare", fake_ckplus, "-o", tmp_path / "cache", "--size", "16", "--workers", "1").stdout
    cache = cache.strip().splitlines()[-1].removeprefix("cache: ")
    args = [a.format(missing=tmp_path / "missing", cache=cache) for a in args]
    proc = run(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_evaluate_nested_flag_is_wired(fake_store, tmp_path):
    """`evaluate --nested` reaches nested CV: its inner-protocol check answers, not plain evaluation."""
    proc = run(
        "evaluate",
        fake_store.path,
        "--nested",
        "--inner-protocol",
        "bogus",
        "-o",
        tmp_path / "n",
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "bogus" in proc.stderr
    assert not (tmp_path / "n" / "folds").exists()  # no plain cross-validation ran
