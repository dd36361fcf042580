"""`fer3d transfer` and `nested` through a subprocess, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FER3D = [sys.executable, "-c", "from fer3d.cli import main; main()"]


def fer3d(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*FER3D, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_transfer_command_prints_table6_rows(fake_store, tmp_path: Path) -> None:
    out = tmp_path / "transfer"
    done = fer3d(
        "transfer",
        "--source-cache",
        fake_store.path,
        "--target-cache",
        fake_store.path,
        "--preset",
        "ckplus-paper",
        "--profile",
        "tiny",
        "--set",
        "train.epochs=1",
        "--k",
        "2",
        "--device",
        "cpu",
        "-o",
        out,
    )
    assert done.returncode == 0, done.stderr
    assert "trained from scratch" in done.stdout and "fine-tuned" in done.stdout
    assert (out / "transfer.json").exists() and (out / "finetuned" / "metrics.json").exists()


def test_nested_refuses_an_unknown_inner_protocol(fake_store, tmp_path: Path) -> None:
    done = fer3d(
        "nested", fake_store.path, "--profile", "tiny", "--inner-protocol", "holdout", "-o", tmp_path / "n"
    )
    assert done.returncode == 2
    assert done.stderr.startswith("fer3d: error:") and "holdout" in done.stderr
