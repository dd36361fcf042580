"""CK+ emotion-file cases of the issue's bad-input list (the cases every reader shares are in
test_readers_shared.py; videos in test_video.py; faces in test_prepare_faces.py)."""

from __future__ import annotations

import pytest

from fer3d.data.errors import BadInputError
from fer3d.data.registry import read_dataset

from .conftest import tiny_frame, write_ckplus

SPEC = [("S001", 0, 2), ("S002", 4, 3)]


@pytest.fixture
def ckplus(tmp_path):
    return write_ckplus(tmp_path / "ck", SPEC, lambda i, f: tiny_frame(i + f))


def _emotion_file(root):
    return sorted((root / "Emotion").rglob("*_emotion.txt"))[0]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "emotion file is empty"),
        ("happy\n", "emotion file does not hold a number"),
        ("2.5\n", "invalid emotion code"),
    ],
)
def test_malformed_emotion_file(ckplus, content, problem):
    path = _emotion_file(ckplus)
    path.write_text(content)
    with pytest.raises(BadInputError, match=f"{path}: {problem}"):
        read_dataset("ckplus", ckplus)
    dataset = read_dataset("ckplus", ckplus, skip_bad=True)
    assert len(dataset.records) == 1 and dataset.skip_log.skipped[0].path == str(path)


def test_missing_emotion_file_is_counted_not_dropped_silently(ckplus):
    _emotion_file(ckplus).unlink()
    dataset = read_dataset("ckplus", ckplus)
    assert len(dataset.records) == 1
    assert dataset.notes == ["1 sequence(s) have no emotion file (unlabelled in CK+, not used)"]


def test_two_emotion_files_for_one_sequence(ckplus):
    path = _emotion_file(ckplus)
    (path.parent / "extra_emotion.txt").write_text("3\n")
    with pytest.raises(BadInputError, match=f"{path.parent.name}: 2 emotion files"):
        read_dataset("ckplus", ckplus)


@pytest.mark.parametrize("fmt", ["ckplus", "oulu"])
def test_a_file_instead_of_a_folder(tmp_path, fmt):
    path = tmp_path / "dataset.zip"
    path.write_bytes(b"PK")
    with pytest.raises(BadInputError, match=str(path)):
        read_dataset(fmt, path)


def test_wrong_format_for_the_tree(ckplus):
    with pytest.raises(BadInputError, match=f"{ckplus}: not an Oulu-CASIA dataset"):
        read_dataset("oulu", ckplus)
    with pytest.raises(BadInputError, match=f"{ckplus / 'Emotion'}: not a CK\\+ dataset"):
        read_dataset("ckplus", ckplus / "Emotion")
