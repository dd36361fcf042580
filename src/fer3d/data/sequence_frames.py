"""Turning a record into its last ``n`` frames, padded by repeating the last one."""

from __future__ import annotations

import numpy as np

from fer3d.data.errors import BadInputError
from fer3d.data.frames import Color, read_image, to_color
from fer3d.data.records import SequenceRecord


def last_frames(record: SequenceRecord, n: int, color: Color, *, pad: bool = True) -> list[np.ndarray]:
    """The last ``n`` frames of a sequence as uint8 arrays; shorter sequences repeat their last frame
    (with ``pad=False`` they come back as they are, fewer than ``n``)."""
    if record.video is not None:
        from fer3d.data.video import read_last_frames  # video decoding lives with the video reader

        frames = read_last_frames(record.video, n, color)
        where = str(record.video)
    else:
        if not record.frames:
            raise BadInputError(record.sequence_id, "empty sequence: no frames")
        where = record.source
        decoded = [read_image(p) for p in record.frames[-n:]]
        # As stored: one-channel files beside three-channel ones (content is not judged: a dark frame
        # of a colour video is still a colour frame).
        sizes = {image.shape[:2] for image in decoded}
        if len(sizes) > 1:
            raise BadInputError(
                where, f"frames of mixed sizes {sorted(sizes)}", "all frames of a sequence must match"
            )
        kinds = {image.ndim == 3 and image.shape[2] >= 3 for image in decoded}
        if len(kinds) > 1:
            raise BadInputError(
                where, "sequence mixes gray and colour frames", "convert its frames to one kind"
            )
        frames = [to_color(image, color) for image in decoded]
    if not frames:
        raise BadInputError(where, "empty sequence: no frames could be read")
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise BadInputError(
            where, f"frames of mixed sizes {sorted(shapes)}", "all frames of a sequence must match"
        )
    return pad_to_length(frames, n) if pad else list(frames[-n:])


def pad_to_length(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    return list(frames[-n:]) + [frames[-1]] * max(0, n - len(frames))
