"""`fer3d compare` and `report` through a subprocess, as a user runs them (on the same two runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fer3d.evaluation.crossval import cross_validate
from fer3d.presets import get_config

FER3D = [sys.executable, "-c", "from fer3d.cli import main; main()"]


def fer3d(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*FER3D, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two configs on the same 3-fold split, and one on another split (built once for the module)."""
    from conftest import write_fake_ckplus
    from fer3d.data.prepare import PrepareConfig, prepare
    from fer3d.data.registry import read_dataset

    tmp_path = tmp_path_factory.mktemp("runs")
    root = write_fake_ckplus(tmp_path / "ckplus")
    fake_store = prepare(
        read_dataset("ckplus", root), tmp_path / "cache", PrepareConfig(size=24), workers=1, progress=False
    )
    runs = []
    for name, overrides, seed in (("a", {}, 0), ("b", {"model.activation": "elu"}, 0), ("c", {}, 1)):
        config = get_config("ckplus-paper", "tiny", {"train.epochs": 1, **overrides})
        cross_validate(
            fake_store,
            config,
            "kfold",
            k=3,
            split_seed=seed,
            out_dir=tmp_path / name,
            device="cpu",
            progress=False,
        )
        runs.append(tmp_path / name)
    return runs[0], runs[1], runs[2]


def test_compare_prints_every_test_and_refuses_other_folds(two_runs, tmp_path: Path) -> None:
    a, b, c = two_runs
    done = fer3d("compare", a, b, "--json", tmp_path / "cmp.json")
    assert done.returncode == 0, done.stderr
    for name in ("paired t-test", "Wilcoxon", "Nadeau-Bengio", "McNemar", "p = ", "Cohen's d_z", "95% CI"):
        assert name in done.stdout
    assert (tmp_path / "cmp.json").exists()
    again = fer3d("compare", a, b, "--json", tmp_path / "cmp.json")  # its own earlier output: replaced
    assert again.returncode == 0, again.stderr
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    foreign = fer3d("compare", a, b, "--json", notes)
    assert (
        foreign.returncode == 2 and "notes.json" in foreign.stderr and "nothing was changed" in foreign.stderr
    )
    assert notes.read_text() == '{"mine": 1}'
    refused = fer3d("compare", a, c)
    assert refused.returncode == 2
    assert refused.stderr.startswith("fer3d: error:") and "different folds" in refused.stderr


def test_report_command_writes_html_and_markdown(two_runs, tmp_path: Path) -> None:
    a, _, _ = two_runs
    done = fer3d("report", a, "-o", tmp_path / "report")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report" / "report.html").stat().st_size > 10_000
    assert "report.html" in done.stdout
    missing = fer3d("report", tmp_path / "nothing-here", "-o", tmp_path / "r2")
    assert missing.returncode == 2 and "nothing-here" in missing.stderr
