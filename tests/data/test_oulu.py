"""Oulu-CASIA specifics: where ROOT may point, subset selection, names that are not Oulu's."""

from __future__ import annotations

import pytest

from fer3d.data.errors import BadInputError, DatasetLayoutError
from fer3d.data.oulu import OuluReader
from fer3d.data.registry import read_dataset

from .conftest import tiny_frame, write_oulu

SPEC = [("S001", 0, 2), ("S001", 5, 2), ("S012", 3, 3)]


def _tree(tmp_path, subset="VL/Strong"):
    return write_oulu(tmp_path / "oulu", SPEC, lambda i, f: tiny_frame(i + f), subset=subset)


def test_root_or_originalimg(tmp_path):
    root = _tree(tmp_path)
    a = read_dataset("oulu", root)
    b = read_dataset("oulu", root / "OriginalImg")
    assert [r.sequence_id for r in a.records] == [r.sequence_id for r in b.records]
    assert a.subjects == ["P001", "P012"]
    assert {(r.subject, a.class_names[r.label]) for r in a.records} == {
        ("P001", "anger"),
        ("P001", "surprise"),
        ("P012", "happiness"),
    }


def test_other_subsets_are_selectable_case_insensitively(tmp_path):
    root = _tree(tmp_path, subset="NI/Dark")
    dataset = read_dataset("oulu", root, lighting="ni", illumination="dark")
    assert len(dataset.records) == 3
    assert "NI/Dark" in dataset.notes[0]


def test_missing_subset_lists_what_is_there(tmp_path):
    root = _tree(tmp_path, subset="NI/Dark")
    with pytest.raises(DatasetLayoutError, match=r"no VL/Strong/.*found folders: \['NI'\]"):
        read_dataset("oulu", root)


def test_unknown_option_value():
    with pytest.raises(BadInputError, match="choose one of Strong, Weak, Dark"):
        OuluReader(illumination="bright")


def test_unexpected_subject_folder_is_reported(tmp_path):
    root = _tree(tmp_path)
    stray = root / "OriginalImg" / "VL" / "Strong" / "backup"
    stray.mkdir()
    with pytest.raises(BadInputError, match=str(stray)):
        read_dataset("oulu", root)
    dataset = read_dataset("oulu", root, skip_bad=True)
    assert len(dataset.records) == 3 and dataset.skip_log.skipped[0].path == str(stray)


def test_non_image_file_in_a_sequence_is_reported(tmp_path):
    root = _tree(tmp_path)
    stray = root / "OriginalImg" / "VL" / "Strong" / "P001" / "Anger" / "notes.txt"
    stray.write_text("x")
    with pytest.raises(BadInputError, match=str(stray)):
        read_dataset("oulu", root)


def test_frames_in_natural_order(tmp_path):
    root = write_oulu(tmp_path / "oulu", [("S001", 0, 12)], lambda i, f: tiny_frame(f))
    for p in (root / "OriginalImg/VL/Strong/P001/Anger").iterdir():
        p.rename(p.with_name(f"{int(p.stem)}.jpeg"))  # 0.jpeg ... 11.jpeg: no zero padding
    frames = read_dataset("oulu", root).records[0].frames
    assert [p.stem for p in frames] == [str(i) for i in range(12)]
