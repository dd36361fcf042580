"""Unwritable output for every command that writes: a read-only folder and a full disk (RLIMIT_FSIZE)
end in one line ``fer3d: error: <path>: <what> (<fix>)`` with exit code 2, never a traceback, and leave
no output that looks complete."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from faults.helpers import (
    assert_clear_error,
    cli_in_process,
    outcome,
    run_cli,
    tiny_args,
    write_ckplus,
    write_model,
    write_store,
    write_video,
)

FULL = os.environ.get("FER3D_FAULTS_FULL") == "1"
full_only = pytest.mark.skipif(not FULL, reason="full fault set: FER3D_FAULTS_FULL=1")

# What a finished output holds; none of it may exist after a failed write.
COMPLETE = ("fer3d-model.json", "meta.json", "metrics.json", "report.html", "windows.json", "transfer.json")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Inputs: a cache, a model, a video, a tiny dataset, a run folder."""
    from fer3d.evaluation.crossval import cross_validate
    from fer3d.presets import get_config

    root = tmp_path_factory.mktemp("ws")
    store = write_store(root / "cache")
    config = get_config(
        "ckplus-paper", "tiny", {"input.size": 24, "input.frames": 6, "train.epochs": 1, "input.clahe": False}
    )
    cross_validate(store, config, "kfold", k=2, out_dir=root / "run", device="cpu", progress=False)
    paths = {
        "root": root,
        "store": store.path,
        "model": write_model(root / "model", store),
        "video": write_video(root / "clip.avi"),
        "dataset": write_ckplus(root / "ckplus", subjects=2),
        "run": root / "run",
    }
    return paths


# Every command that writes, with OUT its output; `export` writes into the model folder.
COMMANDS = {
    "synth": lambda w, out: ["synth", out, "--subjects", "2"],
    "prepare": lambda w, out: ["prepare", w["dataset"], "-o", out, "--size", "24", "--workers", "1"],
    "evaluate": lambda w, out: [
        "evaluate", w["store"], "-o", out, "--k", "2", "--workers", "1", *tiny_args()
    ],
    "search": lambda w, out: [
        "search", w["store"], "--study", "s", "-o", out, "--n-trials", "1", "--jobs", "1", "--k", "2",
        "--protocol", "kfold", "--no-progress", *tiny_args(),
    ],
    "transfer": lambda w, out: [
        "transfer", "--source-cache", w["store"], "--target-cache", w["store"], "-o", out, "--k", "2",
        *tiny_args(),
    ],
    "nested": lambda w, out: [
        "nested", w["store"], "-o", out, "--k", "2", "--n-trials", "1", "--inner-protocol", "kfold",
        "--inner-k", "2", *tiny_args(),
    ],
    "report": lambda w, out: ["report", w["run"], "-o", out],
    "train": lambda w, out: ["train", w["store"], "-o", out, *tiny_args()],
    "predict": lambda w, out: ["predict", w["video"], "--model", w["model"], "-o", out],
    "export": lambda w, out: ["export", out, "--onnx"],
    "inspect": lambda w, out: ["inspect", w["store"], "-o", Path(out) / "sheet.png"],
}  # fmt: skip
CI_FULL_DISK = ("train", "search", "predict")


def _output(w, command: str, folder: Path) -> Path:
    if command == "export":  # export writes model.onnx into the model folder itself
        return Path(shutil.copytree(w["model"], folder / "model"))
    return folder / "out"


@contextmanager
def read_only(folder: Path):
    """Make ``folder`` (and the folders in it) read-only: permissions for a user, and the immutable
    attribute for root, whom permissions do not stop."""
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    for path in folders:
        path.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        done = subprocess.run(["chattr", "+i", *map(str, folders)], capture_output=True)
        if done.returncode != 0:
            for path in folders:
                path.chmod(0o755)
            pytest.skip(f"running as root and chattr +i is not available here: {done.stderr!r}")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", *map(str, folders)], capture_output=True)
        for path in folders:
            path.chmod(0o755)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_read_only_output(command, ws, capsys, tally):
    folder = ws["root"] / f"ro-{command}"
    folder.mkdir()
    out = _output(ws, command, folder)
    with read_only(folder):
        code, err = cli_in_process(capsys, *COMMANDS[command](ws, out))
        tally.add("read-only output", outcome(code, err))
        line = assert_clear_error(code, err, str(folder))
        assert "permission denied" in line or "not permitted" in line, line
    assert not any(p.name in COMPLETE for p in folder.rglob("*") if command != "export")
    if command == "export":
        assert not (out / "model.onnx").exists()


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize(
    "command", [c if c in CI_FULL_DISK else pytest.param(c, marks=full_only) for c in COMMANDS]
)
def test_full_disk(command, ws, tmp_path, tally):
    out = _output(ws, command, tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": str(tmp_path / "mpl")}
    proc = run_cli(*COMMANDS[command](ws, out), env=env, preexec_fn=_limit_file_size(1024), timeout=600)
    tally.add("full disk", outcome(proc.returncode, proc.stderr))
    line = assert_clear_error(proc.returncode, proc.stderr)
    assert re.search("file too large|disk is full|disk I/O error|could not write", line), line
    done = [p for p in tmp_path.rglob("*") if p.name in COMPLETE and not p.is_relative_to(tmp_path / "model")]
    assert not done, done
    if command == "export":
        assert not (out / "model.onnx").exists()
