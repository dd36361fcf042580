"""The common currency of every dataset reader: labelled sequences with a subject id."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from fer3d.data.errors import SkipLog


@dataclass(frozen=True)
class SequenceRecord:
    """One labelled face sequence: either ordered frame files or one video file."""

    subject: str
    sequence_id: str  # unique within the dataset, e.g. "S005/001"
    label: int  # index into the dataset's class_names
    frames: tuple[Path, ...] = ()  # frame images in temporal order (empty for a video)
    video: Path | None = None
    # Which part of the sequence the clip shows: its last frames (the apex, as labelled), or its first
    # frames (the neutral onset of a CK+/Oulu-style sequence; see fer3d.data.neutral).
    span: Literal["last", "onset"] = "last"

    @property
    def source(self) -> str:
        return str(self.video) if self.video is not None else str(self.frames[0].parent)


@dataclass
class Dataset:
    """What a reader returns: records plus everything it did not use, and why."""

    name: str
    root: Path
    class_names: tuple[str, ...]
    records: list[SequenceRecord]
    skip_log: SkipLog = field(default_factory=SkipLog)
    notes: list[str] = field(default_factory=list)  # e.g. "266 sequences have no emotion file (unlabelled)"

    @property
    def subjects(self) -> list[str]:
        return sorted({r.subject for r in self.records})


class DatasetReader(Protocol):
    """Every reader (CK+, Oulu-CASIA, folder, synthetic via CK+) implements this."""

    name: str

    def read(self, root: Path, skip_log: SkipLog) -> Dataset: ...
