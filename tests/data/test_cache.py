import os

import numpy as np
import pytest

from fer3d.data.cache import ClipStore
from fer3d.data.errors import BadInputError
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset


def _prepare(root, cache, **options):
    return prepare(read_dataset("ckplus", root), cache, PrepareConfig(**options), workers=1, progress=False)


def test_clips_are_last_frames_padded(fake_ckplus, tmp_path):
    store = _prepare(fake_ckplus, tmp_path / "c", size=24, frames=10)
    raw = store.clips(clahe=False)
    assert raw.shape == (18, 10, 24, 24) and raw.dtype == np.uint8
    assert store.clips(clahe=True).shape == raw.shape
    dataset = read_dataset("ckplus", fake_ckplus)
    for i, record in enumerate(dataset.records):
        if len(record.frames) < 10:  # padded by repeating the last frame
            pad = 10 - len(record.frames)
            assert all(np.array_equal(raw[i, -1], raw[i, -1 - j]) for j in range(pad + 1))


def test_rgb_cache(fake_ckplus, tmp_path):
    store = _prepare(fake_ckplus, tmp_path / "c", size=16, color="rgb")
    assert store.clips(False).shape == (18, 10, 16, 16, 3) and store.channels == 3


def test_cache_is_reused(fake_ckplus, tmp_path):
    first = _prepare(fake_ckplus, tmp_path / "c", size=24)
    stamp = (first.path / "raw.npy").stat().st_mtime_ns
    second = _prepare(fake_ckplus, tmp_path / "c", size=24)
    assert second.path == first.path and (second.path / "raw.npy").stat().st_mtime_ns == stamp


def test_cache_invalidated_by_options_and_data(fake_ckplus, tmp_path):
    base = _prepare(fake_ckplus, tmp_path / "c", size=24)
    assert _prepare(fake_ckplus, tmp_path / "c", size=32).path != base.path
    assert _prepare(fake_ckplus, tmp_path / "c", size=24, clahe_clip_limit=3.0).path != base.path
    frame = next((fake_ckplus / "cohn-kanade-images" / "S001").rglob("*.png"))
    os.utime(frame, ns=(1, 1))  # an edited file
    assert _prepare(fake_ckplus, tmp_path / "c", size=24).path != base.path


def test_failed_prepare_leaves_no_cache(fake_ckplus, tmp_path):
    frame = next((fake_ckplus / "cohn-kanade-images" / "S003").rglob("*.png"))
    frame.write_bytes(b"")
    with pytest.raises(BadInputError, match="0 bytes"):
        _prepare(fake_ckplus, tmp_path / "c", size=24, frames=40)
    assert not list((tmp_path / "c").glob("*")) if (tmp_path / "c").exists() else True


def test_opening_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="not a fer3d clip cache"):
        ClipStore.open(tmp_path)


def test_default_short_mode_keeps_old_cache_keys(fake_ckplus):
    """The fields added later (short, neutral) stay out of the key at their defaults: old caches match."""
    from dataclasses import asdict

    from fer3d.config import fingerprint
    from fer3d.data.prepare import cache_path, records_fingerprint

    dataset = read_dataset("ckplus", fake_ckplus)
    config = PrepareConfig(size=24)
    old_fields = {k: v for k, v in asdict(config).items() if k not in ("short", "neutral")}
    old_key = fingerprint([records_fingerprint(dataset), old_fields])
    assert cache_path(fake_ckplus, dataset, config)[1] == old_key
    for changed in (PrepareConfig(size=24, short="linear"), PrepareConfig(size=24, neutral="onset")):
        assert cache_path(fake_ckplus, dataset, changed)[1] != old_key


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resampled_short_sequences_span_the_clip(fake_ckplus, tmp_path, mode):
    """A short sequence resampled over 10 steps starts on its first frame and ends on its last."""
    padded = _prepare(fake_ckplus, tmp_path / "c", size=24).clips(clahe=False)
    resampled_store = _prepare(fake_ckplus, tmp_path / "c", size=24, short=mode)
    resampled = resampled_store.clips(clahe=False)
    assert resampled_store.meta["prepare"]["short"] == mode
    dataset = read_dataset("ckplus", fake_ckplus)
    short = [i for i, r in enumerate(dataset.records) if len(r.frames) < 10]
    long = [i for i, r in enumerate(dataset.records) if len(r.frames) >= 10]
    assert short and long
    for i in long:
        np.testing.assert_array_equal(resampled[i], padded[i])
    for i in short:
        n = len(dataset.records[i].frames)
        np.testing.assert_array_equal(resampled[i, 0], padded[i, 0])  # the sequence's first frame
        np.testing.assert_array_equal(resampled[i, -1], padded[i, -1])  # its last
        changes = sum(not np.array_equal(resampled[i, t], resampled[i, t + 1]) for t in range(9))
        assert changes >= n - 1  # every frame shows up, not only at the start as with padding
        assert not np.array_equal(resampled[i, -2], resampled[i, -1]) or mode == "nearest"
