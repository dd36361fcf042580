"""One suite that every dataset reader passes: records, labels, subjects, and bad-input behaviour
(stop by default with a message naming the file, or skip and list it with ``skip_bad``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from fer3d.data.errors import BadInputError, DatasetLayoutError
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset

from .conftest import SPEC


def _read(case, root, skip_bad=False):
    return read_dataset(case.fmt, root, skip_bad=skip_bad, **case.options(root))


def test_records_labels_subjects(tiny_tree):
    case, root = tiny_tree
    dataset = _read(case, root)
    assert dataset.class_names == case.class_names
    got = sorted((r.subject, r.label, len(r.frames)) for r in dataset.records)
    assert got == sorted((case.subject(s), case.label_of(c), n) for s, c, n in SPEC)
    assert dataset.subjects == sorted({case.subject(s) for s, _, _ in SPEC})
    assert len({r.sequence_id for r in dataset.records}) == len(SPEC)
    assert not dataset.skip_log.skipped


def test_frames_are_in_temporal_order(tiny_tree):
    case, root = tiny_tree
    for record in _read(case, root).records:
        assert list(record.frames) == sorted(
            record.frames, key=lambda p: int("".join(filter(str.isdigit, p.stem)))
        )


def test_not_a_dataset_names_the_root(tiny_tree, tmp_path):
    case, _ = tiny_tree
    empty = tmp_path / "empty"
    empty.mkdir()
    options = case.options(empty) if case.fmt != "folder" else {"subject_regex": "(.*)"}
    with pytest.raises(DatasetLayoutError, match=str(empty)):
        read_dataset(case.fmt, empty, **options)


def test_bad_label_stops_naming_the_file(tiny_tree):
    case, root = tiny_tree
    bad = case.break_label(root)
    with pytest.raises(BadInputError) as err:
        _read(case, root)
    assert str(bad) in str(err.value)


def test_bad_label_is_skipped_and_listed(tiny_tree):
    case, root = tiny_tree
    bad = case.break_label(root)
    dataset = _read(case, root, skip_bad=True)
    assert [s.path for s in dataset.skip_log.skipped] == [str(bad)]
    assert len(dataset.records) >= len(SPEC) - 1


def test_empty_sequence(tiny_tree):
    case, root = tiny_tree
    folder = _read(case, root).records[0].frames[0].parent
    for frame in folder.iterdir():
        frame.unlink()
    with pytest.raises(BadInputError, match=str(folder)):
        _read(case, root)
    dataset = _read(case, root, skip_bad=True)
    assert len(dataset.records) == len(SPEC) - 1
    assert dataset.skip_log.skipped[0].path == str(folder)


@pytest.mark.parametrize("damage", ["zero-byte", "corrupt"])
def test_unreadable_frame_stops_or_skips(tiny_tree, tmp_path, damage):
    case, root = tiny_tree
    frame = _read(case, root).records[0].frames[-1]
    frame.write_bytes(b"" if damage == "zero-byte" else b"\x89PNG garbage")
    config = PrepareConfig(frames=3, size=16)
    with pytest.raises(BadInputError, match=str(frame)):
        prepare(_read(case, root), tmp_path / "cache", config, workers=1, progress=False)
    assert not list((tmp_path / "cache").glob("*")), "a failed run must leave no cache behind"
    dataset = _read(case, root, skip_bad=True)
    store = prepare(dataset, tmp_path / "cache", config, workers=1, progress=False)
    assert len(store) == len(SPEC) - 1
    assert store.meta["skipped"][0]["path"] == str(frame)


def test_mixed_sizes_name_the_sequence(tiny_tree, tmp_path):
    case, root = tiny_tree
    record = _read(case, root).records[0]
    cv2.imwrite(str(record.frames[-1]), cv2.resize(cv2.imread(str(record.frames[-1])), (40, 30)))
    with pytest.raises(BadInputError, match="mixed sizes") as err:
        prepare(
            _read(case, root), tmp_path / "cache", PrepareConfig(frames=4, size=16), workers=1, progress=False
        )
    assert record.source in str(err.value)


def test_mixed_gray_and_colour_name_the_sequence(tiny_tree, tmp_path):
    case, root = tiny_tree
    record = _read(case, root).records[0]
    gray = cv2.imread(str(record.frames[-1]), cv2.IMREAD_GRAYSCALE)
    colour = cv2.merge([gray, gray // 2, 255 - gray])
    cv2.imwrite(str(record.frames[-1]), colour)
    with pytest.raises(BadInputError, match="gray") as err:
        prepare(
            _read(case, root), tmp_path / "cache", PrepareConfig(frames=4, size=16), workers=1, progress=False
        )
    assert record.source in str(err.value)


def test_prepared_cache_keeps_labels_and_subjects(tiny_tree, tmp_path):
    case, root = tiny_tree
    dataset = _read(case, root)
    store = prepare(dataset, tmp_path / "cache", PrepareConfig(frames=3, size=16), workers=1, progress=False)
    assert store.clips(False).shape == (len(SPEC), 3, 16, 16)
    assert sorted(zip(store.subjects.tolist(), store.labels.tolist(), strict=True)) == sorted(
        (r.subject, r.label) for r in dataset.records
    )
    assert store.class_names == case.class_names


def test_root_can_be_moved(tiny_tree, tmp_path):
    """Records point at files under the root given, wherever it is."""
    case, root = tiny_tree
    moved = tmp_path / "elsewhere" / "root"
    shutil.copytree(root.parent, moved.parent)
    for record in _read(case, moved).records:
        assert all(Path(p).is_relative_to(moved) for p in record.frames)
