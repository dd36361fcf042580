"""Oulu-CASIA reader for the official layout.

``ROOT/OriginalImg/{VL,NI}/{Strong,Weak,Dark}/P001/{Anger,Disgust,Fear,Happiness,Sadness,Surprise}/000.jpeg``
... ROOT may also be the ``OriginalImg`` folder itself. One imaging system (``lighting``: VL visible light
or NI near infrared) and one illumination (``illumination``: Strong, Weak or Dark) are read; the usual
benchmark is VL/Strong (80 subjects x 6 sequences). Subject = the ``Pxxx`` folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from fer3d.data.ckplus import IMAGE_SUFFIXES
from fer3d.data.errors import BadInputError, DatasetLayoutError, SkipLog
from fer3d.data.records import Dataset, SequenceRecord
from fer3d.data.registry import register_reader

OULU_CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
LIGHTINGS = ("VL", "NI")
ILLUMINATIONS = ("Strong", "Weak", "Dark")


def _choose(value: str, allowed: tuple[str, ...], what: str) -> str:
    for option in allowed:
        if option.lower() == value.lower():
            return option
    raise BadInputError(value, f"unknown Oulu-CASIA {what} {value!r}", f"choose one of {', '.join(allowed)}")


def natural_key(path: Path) -> list[object]:
    """Sort key that puts ``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class OuluReader:
    """Reads one lighting / illumination subset of Oulu-CASIA (VL/Strong by default)."""

    name = "oulu"
    class_names = OULU_CLASSES

    def __init__(self, lighting: str = "VL", illumination: str = "Strong") -> None:
        self.lighting = _choose(lighting, LIGHTINGS, "lighting")
        self.illumination = _choose(illumination, ILLUMINATIONS, "illumination")

    def read(self, root: Path, skip_log: SkipLog) -> Dataset:
        root = Path(root)
        base = root / "OriginalImg" if (root / "OriginalImg").is_dir() else root
        subset = _find_dir(base, self.lighting)
        subset = _find_dir(subset, self.illumination) if subset is not None else None
        if subset is None:
            present = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
            raise DatasetLayoutError(
                root,
                f"not an Oulu-CASIA dataset: no {self.lighting}/{self.illumination}/ under "
                f"{'OriginalImg/' if base != root else 'it'} (found folders: {present or 'none'})",
                "expected ROOT/OriginalImg/VL/Strong/P001/Anger/000.jpeg"
                " (other subsets: --lighting, --illumination)",
            )
        records: list[SequenceRecord] = []
        by_name = {c.lower(): i for i, c in enumerate(OULU_CLASSES)}
        for subject_dir in sorted(subset.iterdir(), key=natural_key):
            if subject_dir.name.startswith("."):
                continue
            if not subject_dir.is_dir() or not re.fullmatch(r"P\d+", subject_dir.name):
                skip_log.handle(
                    BadInputError(subject_dir, "unexpected entry: subject folders are named P001, P002, ...")
                )
                continue
            for seq_dir in sorted(subject_dir.iterdir(), key=natural_key):
                if seq_dir.name.startswith("."):
                    continue
                try:
                    if not seq_dir.is_dir() or seq_dir.name.lower() not in by_name:
                        raise BadInputError(
                            seq_dir,
                            f"unexpected entry {seq_dir.name!r}: not an Oulu-CASIA emotion folder",
                            f"expected one of {', '.join(c.capitalize() for c in OULU_CLASSES)}",
                        )
                    frames = frame_files(seq_dir)
                    records.append(
                        SequenceRecord(
                            subject=subject_dir.name,
                            sequence_id=f"{subject_dir.name}/{seq_dir.name}",
                            label=by_name[seq_dir.name.lower()],
                            frames=frames,
                        )
                    )
                except BadInputError as err:
                    skip_log.handle(err)
        if not records:
            raise DatasetLayoutError(
                subset, "no Oulu-CASIA sequence found", "expected P001/Anger/000.jpeg ..."
            )
        notes = [f"Oulu-CASIA subset {self.lighting}/{self.illumination}"]
        return Dataset(self.name, root, self.class_names, records, skip_log, notes)


def frame_files(seq_dir: Path) -> tuple[Path, ...]:
    """The frame images of a sequence folder in natural order; anything else in it is an error."""
    frames, other = [], []
    for p in seq_dir.iterdir():
        if p.name.startswith("."):
            continue
        (frames if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES else other).append(p)
    if other:
        raise BadInputError(
            other[0], "unexpected entry in a sequence folder (not an image)", "remove it or use --skip-bad"
        )
    if not frames:
        raise BadInputError(seq_dir, "empty sequence: the folder holds no frame images")
    return tuple(sorted(frames, key=natural_key))


def _find_dir(parent: Path, name: str) -> Path | None:
    """``parent/name`` matched case-insensitively (archives differ in capitalisation)."""
    if not parent.is_dir():
        return None
    for p in parent.iterdir():
        if p.is_dir() and p.name.lower() == name.lower():
            return p
    return None


register_reader("oulu", OuluReader)
