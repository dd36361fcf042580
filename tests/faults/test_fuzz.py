"""Input fuzzing: seeded truncations, byte flips and insertions of PNG, JPEG and video files, and random
edits of emotion files and manifests. Every case must end in a clear error (BadInputError), a reported
skip or a good result, within a bounded time: never another exception, never a hang.

CI runs a short seeded sample; FER3D_FAULTS_FULL=1 runs ten times as many cases."""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from faults.helpers import write_ckplus, write_model, write_store, write_video
from fer3d.data.errors import BadInputError, InputWarning

FULL = os.environ.get("FER3D_FAULTS_FULL") == "1"
CASES = 200 if FULL else 20
SECONDS = 20  # a case still running after this is a hang


class Hang(Exception):
    pass


@contextmanager
def bounded(seconds: int):
    def stop(signum, frame):  # noqa: ARG001
        raise Hang

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    kind = rng.integers(4)
    if kind == 0:  # truncated anywhere, empty included
        return data[: int(rng.integers(0, len(data)))]
    buf = bytearray(data)
    if kind == 1:  # a few flipped bytes
        for pos in rng.integers(0, len(buf), int(rng.integers(1, 9))):
            buf[pos] ^= int(rng.integers(1, 256))
        return bytes(buf)
    if kind == 2:  # random bytes inserted
        pos = int(rng.integers(0, len(buf)))
        return bytes(buf[:pos]) + rng.bytes(int(rng.integers(1, 64))) + bytes(buf[pos:])
    start = int(rng.integers(0, len(buf)))  # a stretch zeroed, as a bad sector would read
    buf[start : start + int(rng.integers(1, 512))] = bytes(min(len(buf) - start, 512))
    return bytes(buf[: len(data)])


def mutate_text(text: str, rng: np.random.Generator) -> bytes:
    lines = text.splitlines(keepends=True) or [""]
    kind = rng.integers(7)
    if kind == 0:
        return b""
    if kind == 1:  # a character replaced by something odd
        pos = int(rng.integers(0, max(1, len(text))))
        odd = ["x", "-", "\x00", "é", ",", '"', "\n", "nan", "1e999", " "][int(rng.integers(10))]
        return (text[:pos] + odd + text[pos + 1 :]).encode()
    if kind == 2:  # a line dropped
        del lines[int(rng.integers(len(lines)))]
        return "".join(lines).encode()
    if kind == 3:  # a line doubled
        i = int(rng.integers(len(lines)))
        return "".join(lines[: i + 1] + lines[i:]).encode()
    if kind == 4:  # bytes that are not UTF-8
        return text.encode()[: int(rng.integers(0, len(text) + 1))] + b"\xff\xfe\x80"
    if kind == 5:  # a byte order mark and Windows line ends
        return ("\ufeff" + text.replace("\n", "\r\n")).encode()
    return mutate_bytes(text.encode(), rng)


def classify(run: Callable[[], object]) -> str:
    """ok | clear_error | skip | hang; any other exception propagates (the test fails with it)."""
    try:
        with bounded(SECONDS), warnings.catch_warnings():
            warnings.simplefilter("ignore", InputWarning)  # a truncated video is reported, then used
            result = run()
    except BadInputError as err:
        assert str(err).startswith(err.path) and err.problem, err
        return "clear_error"
    except Hang:
        return "hang"
    skipped = getattr(getattr(result, "skip_log", None), "skipped", None)
    return "skip" if skipped else "ok"


def _fuzz(tally, suite: str, seed: int, target: Path, original: bytes, mutate, run) -> None:
    rng = np.random.default_rng(seed)
    outcomes = []
    for case in range(CASES):
        target.write_bytes(mutate(original, rng))
        try:
            outcome = classify(run)
        except Exception as err:
            tally.add(suite, "traceback")
            raise AssertionError(f"{suite} case {case} (seed {seed}): {type(err).__name__}: {err}") from err
        tally.add(suite, outcome)
        outcomes.append(outcome)
    target.write_bytes(original)
    assert "hang" not in outcomes, f"{suite}: a case ran longer than {SECONDS} s"


@pytest.mark.parametrize(("suffix", "params"), [(".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 80])])
def test_fuzz_frames(tmp_path, tally, suffix, params):
    from fer3d.data.frames import load_frame

    rng = np.random.default_rng(0)
    ok, encoded = cv2.imencode(suffix, (rng.random((32, 32, 3)) * 255).astype(np.uint8), params)
    assert ok
    path = tmp_path / f"frame{suffix}"
    _fuzz(tally, f"fuzz:{suffix[1:]}", 10, path, encoded.tobytes(), mutate_bytes,
          lambda: load_frame(path, "gray"))  # fmt: skip


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_fuzz_videos(tmp_path, tally, suffix):
    from fer3d.data.video import read_last_frames

    path = write_video(tmp_path / f"clip{suffix}", n=12)
    _fuzz(tally, f"fuzz:{suffix[1:]}", 11, path, path.read_bytes(), mutate_bytes,
          lambda: read_last_frames(path, 4, "gray"))  # fmt: skip


def test_fuzz_emotion_files(tmp_path, tally):
    from fer3d.data.registry import read_dataset

    root = write_ckplus(tmp_path / "ck", subjects=2, frames=3)
    path = sorted((root / "Emotion").rglob("*_emotion.txt"))[0]
    original = path.read_text()
    _fuzz(tally, "fuzz:emotion", 12, path, original.encode(), lambda d, r: mutate_text(d.decode(), r),
          lambda: read_dataset("ckplus", root))  # fmt: skip
    _fuzz(tally, "fuzz:emotion", 13, path, original.encode(), lambda d, r: mutate_text(d.decode(), r),
          lambda: read_dataset("ckplus", root, skip_bad=True))  # fmt: skip


def test_fuzz_manifests(tmp_path, tally):
    from fer3d.data.registry import read_dataset

    root = tmp_path / "folder"
    rows = ["path,label,subject"]
    for subject in ("S001", "S002"):
        for label in ("happy", "sad"):
            seq = root / label / f"{subject}_{label}"
            seq.mkdir(parents=True)
            for f in range(3):
                cv2.imwrite(str(seq / f"{f:03d}.png"), np.full((24, 24), 40 * f, np.uint8))
            rows.append(f"{label}/{subject}_{label},{label},{subject}")
    manifest = root / "manifest.csv"
    original = ("\n".join(rows) + "\n").encode()
    for seed, skip_bad in ((14, False), (15, True)):
        _fuzz(tally, "fuzz:manifest", seed, manifest, original, lambda d, r: mutate_text(d.decode(), r),
              lambda s=skip_bad: read_dataset("folder", root, manifest=manifest, skip_bad=s))  # fmt: skip


def test_fuzz_predict(tmp_path, tally):
    from fer3d.inference.predict import PredictOptions, predict_video

    model = write_model(tmp_path / "model", write_store(tmp_path / "cache", subjects=2))
    path = write_video(tmp_path / "clip.avi", n=14)
    options = PredictOptions(annotate=False, timeline=False, progress=False)
    original = path.read_bytes()
    cases = iter(range(10**6))
    _fuzz(tally, "fuzz:predict", 16, path, original, mutate_bytes,
          lambda: predict_video(path, model, tmp_path / f"out{next(cases)}", options))  # fmt: skip
