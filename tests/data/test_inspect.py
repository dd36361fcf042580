"""``inspect``: counts, skipped inputs, the contact sheet; and the data commands through a subprocess."""

from __future__ import annotations

import subprocess
import sys

import cv2

from fer3d.data.cache import ClipStore
from fer3d.data.inspect import LABEL_WIDTH, contact_sheet, summary
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset

from .conftest import face_sequence, tiny_frame, write_oulu

SPEC = [("S001", 0, 3), ("S001", 2, 3), ("S002", 0, 3), ("S002", 2, 4)]


def _store(tmp_path):
    root = write_oulu(tmp_path / "oulu", SPEC, lambda i, f: tiny_frame(10 * i + f, 32))
    bad = root / "OriginalImg/VL/Strong/P002/Fear/002.jpeg"
    bad.write_bytes(b"")
    dataset = read_dataset("oulu", root, skip_bad=True)
    return prepare(
        dataset, tmp_path / "cache", PrepareConfig(frames=3, size=24), workers=1, progress=False
    ), bad


def test_summary_counts_and_skips(tmp_path):
    store, bad = _store(tmp_path)
    text = summary(store)
    assert "3 clips, 2 subjects, 6 classes" in text
    assert "  anger      2" in text and "  fear       1" in text and "  surprise   0" in text
    assert "  P001  2  (anger 1, fear 1)" in text
    assert "skipped: 1" in text and f"{bad}: image file is empty (0 bytes)" in text


def test_contact_sheet_has_one_row_per_clip_and_frames_in_order(tmp_path):
    store, _ = _store(tmp_path)
    path = contact_sheet(store, tmp_path / "sheet.png", per_class=2)
    sheet = cv2.imread(str(path))
    assert sheet.shape == (3 * 24, LABEL_WIDTH + 3 * 24, 3)


def _fer3d(*args, cwd):
    code = "from fer3d.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_cli_prepare_dlib_then_inspect(tmp_path, astronaut):
    sequences = [face_sequence(astronaut, 4, seed=i) for i in range(2)]
    root = write_oulu(
        tmp_path / "oulu",
        [("S001", 0, 4), ("S002", 5, 4)],
        lambda i, f: cv2.cvtColor(sequences[i][f], cv2.COLOR_RGB2BGR),
    )
    out = _fer3d(
        "prepare", str(root), "--format", "oulu", "--faces", "dlib", "--frames", "3", "--size", "64",
        "--margin", "0.3", "--upsample", "1", "--workers", "1", "-o", str(tmp_path / "cache"), cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cache = out.stdout.strip().splitlines()[-1].removeprefix("cache: ")
    assert ClipStore.open(cache).meta["prepare"]["margin"] == 0.3
    shown = _fer3d("inspect", cache, "-o", str(tmp_path / "sheet.png"), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "2 clips, 2 subjects, 6 classes" in shown.stdout and "skipped: 0" in shown.stdout
    assert cv2.imread(str(tmp_path / "sheet.png")).shape == (2 * 64, LABEL_WIDTH + 3 * 64, 3)


def test_cli_wrong_layout_is_one_clear_line(tmp_path):
    out = _fer3d("prepare", str(tmp_path), "--format", "oulu", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fer3d: error: {tmp_path}: not an Oulu-CASIA dataset")


def test_cli_folder_needs_a_subject_source(tmp_path):
    (tmp_path / "happy" / "a").mkdir(parents=True)
    out = _fer3d("prepare", str(tmp_path), "--format", "folder", cwd=tmp_path)
    assert out.returncode == 2 and "--subject-regex" in out.stderr and "Traceback" not in out.stderr
