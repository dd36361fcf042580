"""Ensemble members: derived seeds and merged fit records."""

from __future__ import annotations

from fer3d.training.members import member_seed, merge_records
from fer3d.training.trainer import FitResult


def test_member_zero_keeps_the_seed_and_the_others_are_distinct():
    assert member_seed(7, 0) == 7
    seeds = [member_seed(7, m) for m in range(6)]
    assert len(set(seeds)) == 6
    assert seeds == [member_seed(7, m) for m in range(6)]  # derived, not drawn
    assert member_seed(8, 1) != member_seed(7, 1)


def test_merged_record_averages_losses_and_sums_times():
    a = FitResult(epoch_losses=[1.0, 0.5], seconds=2.0, clips_seen=10, data_seconds=0.5)
    b = FitResult(epoch_losses=[3.0, 1.5], seconds=4.0, clips_seen=10, data_seconds=1.0)
    merged = merge_records([a, b])
    assert merged.epoch_losses == [2.0, 1.0]
    assert (merged.seconds, merged.clips_seen, merged.data_seconds) == (6.0, 20, 1.5)
    assert merge_records([a]) is a
