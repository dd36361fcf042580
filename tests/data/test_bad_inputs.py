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


def test_labelled_sequence_without_image_folder_is_an_error_or_a_reported_skip(ckplus):
    import shutil

    seq_dir = ckplus / "cohn-kanade-images" / "S002" / "001"
    shutil.rmtree(seq_dir)
    emotion = next((ckplus / "Emotion" / "S002" / "001").glob("*_emotion.txt"))
    with pytest.raises(BadInputError, match=f"{emotion}: labelled sequence has no image folder") as err:
        read_dataset("ckplus", ckplus)
    assert str(seq_dir) in str(err.value) and "--skip-bad" in err.value.fix
    dataset = read_dataset("ckplus", ckplus, skip_bad=True)
    assert len(dataset.records) == 1
    assert [s.path for s in dataset.skip_log.skipped] == [str(emotion)]
    assert "--skip-bad" not in dataset.skip_log.skipped[0].reason  # it was skipped: no advice to skip


def test_sequence_with_zero_frames_says_how_to_fix(ckplus):
    seq_dir = ckplus / "cohn-kanade-images" / "S001" / "001"
    for frame in seq_dir.iterdir():
        frame.unlink()
    with pytest.raises(BadInputError, match=r"no frame images .*\(restore its frames, or use --skip-bad\)"):
        read_dataset("ckplus", ckplus)


def test_non_numeric_emotion_code_says_how_to_fix(ckplus):
    _emotion_file(ckplus).write_text("happy\n")
    with pytest.raises(BadInputError, match=r"does not hold a number: 'happy' \(it must hold one code"):
        read_dataset("ckplus", ckplus)


@pytest.mark.parametrize(
    ("fmt", "options"), [("ckplus", {}), ("oulu", {}), ("folder", {"subject_regex": "S"})]
)
def test_missing_root_says_the_root_does_not_exist(tmp_path, fmt, options):
    root = tmp_path / "no-such-dataset"
    with pytest.raises(BadInputError, match=f"^{root}: dataset root does not exist \\(check the path\\)$"):
        read_dataset(fmt, root, **options)


def test_the_skip_hint_is_dropped_where_a_command_has_no_skip_bad():
    from fer3d.data.errors import without_skip_hint

    err = BadInputError("v.mp4", "video cannot be opened", "re-encode it or use --skip-bad")
    assert str(err) == "v.mp4: video cannot be opened (re-encode it or use --skip-bad)"
    assert err.message(skip_hint=False) == "v.mp4: video cannot be opened (re-encode it)"
    assert (
        without_skip_hint("try --upsample 2, --faces none, or --skip-bad") == "try --upsample 2, --faces none"
    )
    assert without_skip_hint("use --skip-bad") == ""
    assert without_skip_hint("check the path") == "check the path"


def test_16_bit_frames_keep_their_brightness_across_a_sequence(tmp_path):
    import cv2
    import numpy as np

    from fer3d.data.frames import load_frame

    # two frames of one sequence: the second is darker; scaling by each frame's own maximum would make
    # both peak at 255
    bright = np.full((8, 8), 40000, np.uint16)
    bright[0, 0] = 65535
    dark = np.full((8, 8), 20000, np.uint16)
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path, image in zip(paths, (bright, dark), strict=True):
        assert cv2.imwrite(str(path), image)
    a, b = (load_frame(p, "gray") for p in paths)
    assert a.dtype == np.uint8 and a[0, 0] == 255 and a[1, 1] == round(40000 * 255 / 65535)
    assert b[0, 0] == round(20000 * 255 / 65535)  # 78, not 255


def _truncated_avi(path, frames=72):
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for t in range(frames):
        writer.write(np.full((48, 64, 3), 3 * t, np.uint8))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # the header (with its frame count) is at the start
    return path


def test_truncated_video_reports_decoded_against_declared_frames(tmp_path):
    from fer3d.data.errors import InputWarning
    from fer3d.data.video import iter_frames, read_last_frames

    path = _truncated_avi(tmp_path / "cut.avi")
    with pytest.raises(BadInputError, match=r"video is truncated: \d+ of the 72 frames its container"):
        read_last_frames(path, 10, "gray")
    with pytest.warns(InputWarning, match=r"cut.avi: video is truncated: \d+ of the 72 frames"):
        frames = list(iter_frames(path, "gray"))
    assert 0 < len(frames) < 72


@pytest.mark.parametrize(
    ("decoded", "declared", "truncated"),
    [(95, 98, False), (94, 98, False), (93, 98, True), (23, 72, True), (0, 10, True), (5, 0, False)],
)
def test_a_few_frames_short_of_an_estimated_count_is_not_truncation(decoded, declared, truncated):
    # containers often estimate their frame count from duration x fps; a real, whole MP4 decodes 95 of 98
    from fer3d.data.video import is_truncated

    assert is_truncated(decoded, declared) is truncated
