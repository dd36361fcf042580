"""Looking at a prepared cache: counts per class and subject, what was skipped, and a contact sheet of the
aligned crops so a person can see at a glance that the alignment is right."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from fer3d.data.cache import ClipStore
from fer3d.data.errors import BadInputError

LABEL_WIDTH = 120  # pixels left of each contact-sheet row for the class name


def summary(store: ClipStore) -> str:
    """A plain-text report: clips, classes, per-class and per-subject counts, skipped inputs, notes."""
    labels, subjects = store.labels, store.subjects
    per_class = Counter(int(v) for v in labels)
    per_subject = Counter(str(s) for s in subjects)
    prep = store.meta.get("prepare", {})
    lines = [
        f"cache: {store.path}",
        f"dataset: {store.meta.get('dataset')} at {store.meta.get('root')}",
        f"{len(store)} clips, {len(per_subject)} subjects, {store.num_classes} classes; "
        f"clips of {prep.get('frames')} frames of {store.size}x{store.size} {prep.get('color')}, "
        f"faces={prep.get('faces')}, short sequences: {prep.get('short', 'pad')}",
        "per class:",
    ]
    width = max(len(c) for c in store.class_names)
    for i, name in enumerate(store.class_names):
        lines.append(f"  {name:<{width}}  {per_class.get(i, 0)}")
    lines.append("per subject:")
    for subject, count in sorted(per_subject.items()):
        classes = Counter(int(labels[j]) for j in np.flatnonzero(subjects == subject))
        detail = ", ".join(f"{store.class_names[c]} {n}" for c, n in sorted(classes.items()))
        lines.append(f"  {subject}  {count}  ({detail})")
    skipped = store.meta.get("skipped", [])
    lines.append(f"skipped: {len(skipped)}")
    lines += [f"  {s['path']}: {s['reason']}" for s in skipped]
    lines += [f"note: {n}" for n in store.meta.get("notes", [])]
    return "\n".join(lines)


def contact_sheet(store: ClipStore, out: str | Path, *, per_class: int = 2, clahe: bool = False) -> Path:
    """Save a PNG with ``per_class`` rows per class, each one clip's frames from first to last.

    Returns the written path. The clips of a class come from different subjects where it has several.
    """
    clips = store.clips(clahe)
    size = store.size
    frames = clips.shape[1]
    rows: list[np.ndarray] = []
    for c, name in enumerate(store.class_names):
        for k, index in enumerate(_spread(store, c, per_class)):
            clip = np.asarray(clips[index])
            if clip.ndim == 3:  # gray -> rgb so every row has the same layout
                clip = np.repeat(clip[..., None], 3, axis=-1)
            strip = np.concatenate(list(clip), axis=1)
            label = np.full((size, LABEL_WIDTH, 3), 255, np.uint8)
            text = [name if k == 0 else "", str(store.subjects[index])]
            for line, t in enumerate(text):
                cv2.putText(label, t[:14], (4, 18 + 18 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
            rows.append(np.concatenate([label, strip], axis=1))
    if not rows:
        rows.append(np.full((size, LABEL_WIDTH + size * frames, 3), 255, np.uint8))
    sheet = np.concatenate(rows, axis=0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise BadInputError(out, "could not write the contact sheet", "give a .png path in a writable folder")
    return out


def _spread(store: ClipStore, label: int, count: int) -> list[int]:
    """Up to ``count`` clip indices of ``label``, one per subject first (in cache order), then the rest."""
    indices = np.flatnonzero(store.labels == label).tolist()
    by_subject: dict[str, list[int]] = {}
    for i in indices:
        by_subject.setdefault(str(store.subjects[i]), []).append(i)
    first = [group[0] for group in by_subject.values()]
    rest = [i for i in indices if i not in first]
    return (first + rest)[:count]
