"""CK+ reader for the official layout.

``ROOT/cohn-kanade-images/S005/001/S005_001_00000001.png`` ... and
``ROOT/Emotion/S005/001/S005_001_00000011_emotion.txt`` holding one float code
(1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise; 0 neutral is never a label).
Only sequences with an emotion file are labelled; the others are counted in the dataset's notes.
"""

from __future__ import annotations

import math
from pathlib import Path

from fer3d.data.errors import BadInputError, DatasetLayoutError, SkipLog
from fer3d.data.records import Dataset, SequenceRecord

CKPLUS_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def parse_emotion_file(path: Path) -> int:
    """Return the 0-based class index of a CK+ emotion file (code 1..7)."""
    text = path.read_text(errors="replace").strip()
    if not text:
        raise BadInputError(path, "emotion file is empty", "it must hold one code from 1 to 7")
    try:
        value = float(text.split()[0])
    except ValueError:
        raise BadInputError(
            path,
            f"emotion file does not hold a number: {text[:40]!r}",
            "it must hold one code from 1 to 7, or use --skip-bad",
        ) from None
    code = int(round(value)) if math.isfinite(value) else 0  # "nan" and "1e999" parse as floats
    if abs(value - code) > 1e-6 or not 1 <= code <= len(CKPLUS_CLASSES):
        raise BadInputError(
            path, f"invalid emotion code {text[:20]!r}", "CK+ codes are 1..7 (0 neutral is not a label)"
        )
    return code - 1


class CKPlusReader:
    name = "ckplus"
    class_names = CKPLUS_CLASSES

    def read(self, root: Path, skip_log: SkipLog) -> Dataset:
        root = Path(root)
        images, emotions = root / "cohn-kanade-images", root / "Emotion"
        for folder in (images, emotions):
            if not folder.is_dir():
                raise DatasetLayoutError(
                    root,
                    f"not a CK+ dataset: missing folder {folder.name}/",
                    "expected ROOT/cohn-kanade-images/S005/001/*.png and ROOT/Emotion/S005/001/*_emotion.txt",
                )
        records: list[SequenceRecord] = []
        unlabelled = 0
        for err in _labels_without_images(images, emotions):
            skip_log.handle(err)
        for subject_dir in sorted(p for p in images.iterdir() if p.is_dir()):
            for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
                emotion_files = sorted((emotions / subject_dir.name / seq_dir.name).glob("*_emotion.txt"))
                if not emotion_files:
                    unlabelled += 1
                    continue
                try:
                    records.append(self._record(subject_dir.name, seq_dir, emotion_files))
                except BadInputError as err:
                    skip_log.handle(err)
        notes = (
            [f"{unlabelled} sequence(s) have no emotion file (unlabelled in CK+, not used)"]
            if unlabelled
            else []
        )
        if not records:
            raise DatasetLayoutError(
                root, "no labelled sequence found", "check that Emotion/ matches cohn-kanade-images/"
            )
        return Dataset(self.name, root, self.class_names, records, skip_log, notes)

    def _record(self, subject: str, seq_dir: Path, emotion_files: list[Path]) -> SequenceRecord:
        if len(emotion_files) > 1:
            raise BadInputError(
                seq_dir, f"{len(emotion_files)} emotion files for one sequence", "keep exactly one"
            )
        label = parse_emotion_file(emotion_files[0])
        frames = tuple(sorted(p for p in seq_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if not frames:
            raise BadInputError(
                seq_dir,
                f"sequence has an emotion file but no frame images ({', '.join(IMAGE_SUFFIXES)})",
                "restore its frames, or use --skip-bad",
            )
        return SequenceRecord(
            subject=subject, sequence_id=f"{subject}/{seq_dir.name}", label=label, frames=frames
        )


def _labels_without_images(images: Path, emotions: Path) -> list[BadInputError]:
    """An emotion file whose sequence has no image folder: an error, never a silent drop."""
    errors = []
    for emotion_file in sorted(emotions.glob("*/*/*_emotion.txt")):
        seq_dir = images / emotion_file.parent.parent.name / emotion_file.parent.name
        if not seq_dir.is_dir():
            errors.append(
                BadInputError(
                    emotion_file,
                    f"labelled sequence has no image folder ({seq_dir} does not exist)",
                    "restore the sequence's frames, remove the emotion file, or use --skip-bad",
                )
            )
    return errors
