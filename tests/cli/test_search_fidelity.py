"""`fer3d search --fidelity rungs --space ... --no-warm-start` through a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from fer3d.search.objective import RUNG_SCORES

FER3D = [sys.executable, "-c", "from fer3d.cli import main; main()"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _args(store, out: Path, *extra: str) -> list[str]:
    return [
        *FER3D, "search", str(store.path), "--study", "r", "--n-trials", "1", "--threshold", "0",
        "--profile", "tiny", "--set", "train.epochs=1", "-o", str(out), "--threads", "1", "--no-progress",
        "--jobs", "1", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_search_with_rungs_runs_the_rung_first(fake_store, tmp_path: Path) -> None:
    out = tmp_path / "search"
    extra = ("--fidelity", "rungs", "--rung-k", "2", "--rung-epochs", "1", "--no-warm-start")
    run = subprocess.run(_args(fake_store, out, *extra), env=ENV, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    trial = optuna.load_study(study_name="r", storage=f"sqlite:///{out / 'search.db'}").trials[0]
    assert len(trial.user_attrs[RUNG_SCORES]) == 1 and "warm_start" not in trial.user_attrs
    assert list((out / "rungs" / "kfold2-epochs1").glob("*/folds/fold_001.json"))


def test_bad_fidelity_options_are_one_line_errors(fake_store, tmp_path: Path) -> None:
    run = subprocess.run(
        _args(fake_store, tmp_path / "s", "--fidelity", "rungs", "--rung-k", "1"),
        env=ENV, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert "fer3d: error:" in run.stderr and "k >= 2" in run.stderr
    assert "Traceback" not in run.stderr
