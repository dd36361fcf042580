"""The experiments' CK+-sized subset: every subject kept, CK+'s class proportions, written in CK+ layout."""

from __future__ import annotations

import numpy as np
import pytest
from experiments.ckplus_sized import CKPLUS_COUNTS, ckplus_like_subset, write_ckplus_sized

from fer3d.data.registry import read_dataset
from fer3d.data.synthetic import SynthConfig, generate


def test_subset_keeps_every_subject_in_ckplus_proportions():
    subjects = np.repeat(np.arange(118), 7)
    labels = np.tile(np.arange(7), 118)
    chosen = ckplus_like_subset(labels, subjects)
    assert set(subjects[chosen]) == set(range(118))
    assert np.bincount(labels[chosen]).tolist() == list(CKPLUS_COUNTS)


def test_write_ckplus_sized_copies_a_readable_subset(tmp_path):
    generate(tmp_path / "synth", SynthConfig(subjects=6, seed=0, image_size=48, min_frames=3, max_frames=3))
    n = write_ckplus_sized(tmp_path / "synth", tmp_path / "subset", n_sequences=12)
    subset = read_dataset("ckplus", tmp_path / "subset")
    assert len(subset.records) == n and 6 <= n <= 13
    assert len(set(subset.subjects)) == 6
    assert all(len(r.frames) == 3 for r in subset.records)
    with pytest.raises(SystemExit, match="exists"):
        write_ckplus_sized(tmp_path / "synth", tmp_path / "subset")
