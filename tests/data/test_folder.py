"""Generic folder reader: subjects from a name pattern or a manifest, videos and frame folders mixed."""

from __future__ import annotations

import shutil

import pytest

from fer3d.data.errors import BadInputError
from fer3d.data.registry import read_dataset

from .conftest import FOLDER_LABELS, tiny_frame, write_folder

SPEC = [("S001", 2, 2), ("S002", 0, 2), ("S002", 1, 3)]


def _tree(tmp_path, manifest=False):
    return write_folder(tmp_path / "data" / "root", SPEC, lambda i, f: tiny_frame(i + f), manifest=manifest)


def test_named_group_and_sorted_classes(tmp_path):
    root = _tree(tmp_path)
    dataset = read_dataset("folder", root, subject_regex=r"take\d+|^(?P<subject>S\d+)")
    assert dataset.class_names == tuple(sorted(FOLDER_LABELS))
    assert sorted((r.subject, dataset.class_names[r.label]) for r in dataset.records) == [
        ("S001", "sad"),
        ("S002", "angry"),
        ("S002", "happy"),
    ]


def test_whole_match_when_no_group(tmp_path):
    dataset = read_dataset("folder", _tree(tmp_path), subject_regex=r"S\d+")
    assert dataset.subjects == ["S001", "S002"]


def test_regex_that_does_not_match_names_the_sequence(tmp_path):
    root = _tree(tmp_path)
    with pytest.raises(BadInputError, match=r"S00\d_take\d: --subject-regex .\^P\(\\d\+\). does not match"):
        read_dataset("folder", root, subject_regex=r"^P(\d+)")


def test_subject_source_is_required():
    with pytest.raises(BadInputError, match="--subject-regex"):
        read_dataset("folder", ".")


def test_invalid_regex():
    with pytest.raises(BadInputError, match="invalid --subject-regex"):
        read_dataset("folder", ".", subject_regex="(unclosed")


def test_manifest_relative_to_root_and_missing_entry(tmp_path):
    root = _tree(tmp_path, manifest=True)
    manifest = root.parent / "manifest.csv"
    shutil.move(manifest, root / "list.csv")
    dataset = read_dataset("folder", root, manifest="list.csv")
    assert len(dataset.records) == 3
    (root / "list.csv").write_text((root / "list.csv").read_text() + "happy/gone,happy,S009\n")
    with pytest.raises(BadInputError, match=r"gone: listed sequence does not exist"):
        read_dataset("folder", root, manifest=root / "list.csv")


def test_manifest_with_wrong_header(tmp_path):
    root = _tree(tmp_path)
    bad = tmp_path / "m.csv"
    bad.write_text("file,emotion\nx,y\n")
    with pytest.raises(BadInputError, match=f"{bad}: manifest header"):
        read_dataset("folder", root, manifest=bad)


def test_unexpected_file_in_label_folder(tmp_path):
    root = _tree(tmp_path)
    stray = root / "happy" / "S003_readme.txt"
    stray.write_text("x")
    with pytest.raises(BadInputError, match=f"{stray}: unexpected file"):
        read_dataset("folder", root, subject_regex=r"^(S\d+)")
    dataset = read_dataset("folder", root, subject_regex=r"^(S\d+)", skip_bad=True)
    assert [s.path for s in dataset.skip_log.skipped] == [str(stray)]


def test_video_sequences(tmp_path, tiny_video):
    root = tmp_path / "vids"
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    shutil.copy(tiny_video, root / "happy" / "S001_a.mp4")
    shutil.copy(tiny_video, root / "sad" / "S002_b.mp4")
    (root / "sad" / "S003_c.avi").write_bytes(b"")
    with pytest.raises(BadInputError, match=r"S003_c.avi: video file is empty"):
        read_dataset("folder", root, subject_regex=r"^(S\d+)")
    dataset = read_dataset("folder", root, subject_regex=r"^(S\d+)", skip_bad=True)
    assert [(r.subject, r.video.name) for r in dataset.records] == [
        ("S001", "S001_a.mp4"),
        ("S002", "S002_b.mp4"),
    ]
    assert all(not r.frames for r in dataset.records)
