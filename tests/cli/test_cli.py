"""The CLI through a subprocess, as a user runs it."""

import json
import re
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


def test_short_synthetic_sequences_and_prepare_options(tmp_path):
    """`synth --frames 3-5`, then `prepare --short linear` and `--neutral onset`, as a user runs them."""
    run("synth", tmp_path / "short", "--subjects", "2", "--frames", "3-5", "--seed", "1")
    lengths = {len(list(p.iterdir())) for p in (tmp_path / "short" / "cohn-kanade-images").glob("*/*")}
    assert lengths <= {3, 4, 5}
    out = run("prepare", tmp_path / "short", "-o", tmp_path / "c", "--size", "16", "--short", "linear").stdout
    cache = ClipStore.open(out.strip().splitlines()[-1].removeprefix("cache: "))
    assert cache.meta["prepare"]["short"] == "linear"
    # 3-5-frame sequences are too short for a neutral onset: a clear one-line error
    proc = run("prepare", tmp_path / "short", "-o", tmp_path / "c", "--neutral", "onset", check=False)
    assert proc.returncode == 2 and "neutral onset clip needs" in proc.stderr
    run("synth", tmp_path / "long", "--subjects", "2", "--frames", "9-12")
    out = run("prepare", tmp_path / "long", "-o", tmp_path / "c", "--size", "16", "--neutral", "onset").stdout
    assert "8 classes" in out
    cache_dir = out.strip().splitlines()[-1].removeprefix("cache: ")
    shown = run("inspect", cache_dir, "-o", tmp_path / "sheet.png").stdout
    assert re.search(r"^\s+neutral\s+14$", shown, re.M) and "neutral: 14 onset clips" in shown


@pytest.mark.parametrize(
    "args,message",
    [
        (["synth", "{out}", "--frames", "3-x"], "frames must be MIN-MAX"),
        (["prepare", "{out}", "--short", "cubic"], "--short must be one of pad, nearest, linear"),
        (["prepare", "{out}", "--neutral", "first"], "--neutral must be none or onset"),
    ],
)
def test_bad_short_and_neutral_options_are_one_line(tmp_path, args, message):
    proc = run(*[a.replace("{out}", str(tmp_path / "x")) for a in args], check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_predict_min_confidence_is_checked_before_any_work(tmp_path):
    assert "--min-confidence" in run("predict", "--help").stdout
    proc = run("predict", tmp_path / "v.mp4", "--min-confidence", "1.5", check=False)
    assert proc.returncode == 2 and "--min-confidence must be between 0 and 1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
