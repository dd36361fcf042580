"""Output folders and files: only a new, empty or recognised one is ever written into or replaced."""

from __future__ import annotations

import pytest

from fer3d.atomic import (
    ForeignFolderError,
    atomic_file,
    atomic_folder,
    check_output_file,
    check_output_folder,
    claim_output_folder,
    has_entry,
    json_keys,
    json_marker,
)

is_model = json_marker("marker.json", "format")


def test_atomic_folder_creates_new_folder(tmp_path):
    with atomic_folder(tmp_path / "out", is_model) as tmp:
        (tmp / "marker.json").write_text('{"format": 1}')
    assert (tmp_path / "out" / "marker.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left


def test_atomic_folder_replaces_its_own_output(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "marker.json").write_text('{"format": 1}')
    (target / "old.bin").write_text("old")
    with atomic_folder(target, is_model) as tmp:
        (tmp / "marker.json").write_text('{"format": 2}')
    assert sorted(p.name for p in target.iterdir()) == ["marker.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_folder_replaces_an_empty_folder(tmp_path):
    (tmp_path / "out").mkdir()
    with atomic_folder(tmp_path / "out") as tmp:
        (tmp / "a").write_text("a")
    assert (tmp_path / "out" / "a").is_file()


@pytest.mark.parametrize("content", ["notes.txt", "marker.json"])
def test_atomic_folder_never_deletes_a_users_folder(tmp_path, content):
    target = tmp_path / "mine"
    target.mkdir()
    (target / content).write_text("the user's words")  # marker.json without the key is not a marker
    refused = pytest.raises(ForeignFolderError, match="not a fer3d model folder")
    with refused as err, atomic_folder(target, is_model, "model folder") as tmp:
        (tmp / "marker.json").write_text('{"format": 1}')
    assert str(target) in str(err.value) and "(give -o a new or empty folder" in str(err.value)
    assert (target / content).read_text() == "the user's words"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # the temporary was removed


def test_atomic_folder_refuses_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(ForeignFolderError, match="not a folder"), atomic_folder(tmp_path / "out", is_model):
        pass
    assert (tmp_path / "out").read_text() == "x"


def test_atomic_folder_failure_keeps_the_previous_output(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "marker.json").write_text('{"format": 1}')
    with pytest.raises(RuntimeError), atomic_folder(target, is_model) as tmp:
        (tmp / "partial").write_text("x")
        raise RuntimeError("crash while writing")
    assert sorted(p.name for p in target.iterdir()) == ["marker.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_claim_output_folder(tmp_path):
    assert claim_output_folder(tmp_path / "a" / "b", has_entry("run.json"), "run folder").is_dir()
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    (run / "user.txt").write_text("x")
    claim_output_folder(run, has_entry("run.json"), "run folder")  # recognised: writing inside is fine
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "user.txt").write_text("x")
    with pytest.raises(ForeignFolderError, match="not a fer3d run folder"):
        check_output_folder(tmp_path / "other", has_entry("run.json"), "run folder")


def test_check_output_file_replaces_only_its_own_file(tmp_path):
    is_config = json_keys("input", "model")
    assert check_output_file(tmp_path / "new.json", is_config, "config") == tmp_path / "new.json"
    own = tmp_path / "best.json"
    own.write_text('{"input": {}, "model": {}}')
    assert check_output_file(own, is_config, "config") == own
    for name, text in (("other.json", '{"input": {}}'), ("notes.txt", "my notes"), ("list.json", "[1]")):
        (tmp_path / name).write_text(text)
        with pytest.raises(ForeignFolderError, match="nothing was changed"):
            check_output_file(tmp_path / name, is_config, "config")
        assert (tmp_path / name).read_text() == text
    with pytest.raises(ForeignFolderError, match="is a folder"):
        check_output_file(tmp_path, is_config, "config")


def test_atomic_file_keeps_the_earlier_file_and_no_temporary_on_failure(tmp_path):
    path = tmp_path / "pretrained.pt"
    path.write_bytes(b"earlier")
    with pytest.raises(OSError, match="disk full"), atomic_file(path) as tmp:
        tmp.write_bytes(b"half")
        raise OSError("disk full")
    assert path.read_bytes() == b"earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["pretrained.pt"]
    with atomic_file(path) as tmp:
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["pretrained.pt"]
