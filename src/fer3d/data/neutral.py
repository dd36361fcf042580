"""A neutral class built from the data itself: CK+ and Oulu-CASIA sequences start at neutral.

``with_neutral_onsets`` adds, for every labelled sequence, one record of the same subject whose clip is
made of the sequence's first frames, labelled ``neutral`` (a class appended after the dataset's own, so
existing label indices do not change). The onset is the first third of the sequence, so that it stays
well before the apex; a sequence shorter than ``MIN_ONSET_SEQUENCE`` frames gives no neutral clip
(its first frames may already be expressive, e.g. a sequence cut to its last frames), and ``prepare``
reports how many did not.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from fer3d.data.errors import BadInputError
from fer3d.data.frames import Color
from fer3d.data.records import Dataset, SequenceRecord
from fer3d.data.sequence_frames import last_frames

NEUTRAL = "neutral"
MIN_ONSET_SEQUENCE = 6  # frames; the onset of such a sequence is its first 2


def onset_length(sequence_length: int, clip_frames: int) -> int:
    """Frames taken from the start of a sequence of ``sequence_length``: its first third, at most a clip."""
    return max(1, min(clip_frames, sequence_length // 3))


def with_neutral_onsets(dataset: Dataset) -> Dataset:
    """``dataset`` plus one ``neutral`` onset record per record (same subject, appended after them)."""
    if NEUTRAL in (name.strip().lower() for name in dataset.class_names):
        raise BadInputError(
            dataset.root,
            "the dataset already has a neutral class",
            "use its own neutral clips and drop --neutral onset",
        )
    label = len(dataset.class_names)
    onsets = [
        dataclasses.replace(r, sequence_id=f"{r.sequence_id}/onset", label=label, span="onset")
        for r in dataset.records
    ]
    return dataclasses.replace(
        dataset, class_names=(*dataset.class_names, NEUTRAL), records=[*dataset.records, *onsets]
    )


def onset_frames(record: SequenceRecord, clip_frames: int, color: Color) -> list[np.ndarray] | None:
    """The first frames of ``record`` (see :func:`onset_length`), or None when the sequence is shorter
    than ``MIN_ONSET_SEQUENCE`` frames."""
    if record.video is not None:
        from fer3d.data.video import iter_frames  # video decoding lives with the video reader

        frames = [frame for _, _, frame in iter_frames(record.video, color)]
        if len(frames) < MIN_ONSET_SEQUENCE:
            return None
        return frames[: onset_length(len(frames), clip_frames)]
    if len(record.frames) < MIN_ONSET_SEQUENCE:
        return None
    k = onset_length(len(record.frames), clip_frames)
    return last_frames(dataclasses.replace(record, frames=record.frames[:k]), k, color, pad=False)
