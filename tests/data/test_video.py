"""Video decoding: last frames, frame iterator, fps, and errors that name the file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fer3d.data.errors import BadInputError
from fer3d.data.video import iter_frames, read_last_frames, video_fps

from .conftest import media_dir, write_video


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mov", ".mkv"])
def test_last_frames_of_every_container(tmp_path, suffix):
    frames = [np.full((24, 32, 3), 20 + 30 * i, np.uint8) for i in range(7)]
    path = write_video(tmp_path / f"clip{suffix}", frames)
    last = read_last_frames(path, 3, "gray")
    assert [f.shape for f in last] == [(24, 32)] * 3
    assert [round(float(f.mean()) / 30) for f in last] == [round((20 + 30 * i) / 30) for i in (4, 5, 6)]
    assert read_last_frames(path, 3, "rgb")[0].shape == (24, 32, 3)


def test_short_video_gives_what_it_has(tiny_video):
    assert len(read_last_frames(tiny_video, 20, "gray")) == 7


def test_iter_frames_and_fps(tiny_video):
    items = list(iter_frames(tiny_video, "rgb"))
    assert [i for i, _, _ in items] == list(range(7))
    times = [t for _, t, _ in items]
    assert times == sorted(times) and times[-1] == pytest.approx(0.6, abs=0.05)
    assert video_fps(tiny_video) == pytest.approx(10.0)


def test_zero_byte_video_names_the_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(BadInputError, match=f"{path}: video file is empty"):
        read_last_frames(path, 3, "gray")


def test_corrupt_video_names_the_file(tmp_path):
    path = tmp_path / "broken.avi"
    path.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(BadInputError, match=str(path)):
        read_last_frames(path, 3, "gray")


def test_missing_video_names_the_file(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        video_fps(tmp_path / "nope.mp4")


def test_truncated_real_video_reads_or_names_the_file(tmp_path):
    source = media_dir() / "single_face.mp4"
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    try:
        frames = read_last_frames(cut, 4, "gray")
    except BadInputError as err:
        assert str(cut) in str(err)
    else:
        assert 1 <= len(frames) <= 4


def test_real_videos_decode(tmp_path):
    for name, frames, size in [("single_face.mp4", 72, (360, 640)), ("face_noface.mov", 169, (540, 960))]:
        path = tmp_path / name
        shutil.copy(media_dir() / name, path)
        assert video_fps(path) > 20
        last = read_last_frames(path, 2, "rgb")
        assert last[0].shape[:2] == size
        assert sum(1 for _ in iter_frames(path, "gray")) == pytest.approx(frames, abs=2)
