"""The experiments' data: a synthetic face set cut to CK+'s size and class proportions, and its folds.

CK+ has 327 labelled sequences of 118 subjects; its largest class (surprise, 83) sets the size of a
balanced epoch, so a subset in its proportions costs what CK+ would. Not an experiment itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer3d.data.cache import ClipStore
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset
from fer3d.data.synthetic import SynthConfig, generate
from fer3d.evaluation.splits import Fold, subject_kfold

# Sequences per class among CK+'s 327 labelled ones: anger, contempt, disgust, fear, happy, sadness, surprise.
CKPLUS_COUNTS = (45, 18, 59, 25, 69, 28, 83)
CKPLUS_SEQUENCES = sum(CKPLUS_COUNTS)
CKPLUS_SUBJECTS = 118


def synthetic_store(
    root: Path,
    subjects: int,
    image_size: int,
    *,
    seed: int = 0,
    difficulty: float = 0.5,
    frames: int | None = None,
) -> ClipStore:
    """A prepared cache of ``fer3d synth`` faces under ``root`` (``data/`` and ``cache/``); data already
    generated there is reused, so a resumed experiment sees the same faces. ``frames``: every sequence
    this long (e.g. 3, as the real CK+ subset of issue 24), else the generator's 6-18."""
    data = root / "data"
    if not (data / "Emotion").is_dir():
        lengths = {"min_frames": frames, "max_frames": frames} if frames else {}
        synth = SynthConfig(
            subjects=subjects, seed=seed, difficulty=difficulty, image_size=max(image_size, 48), **lengths
        )
        generate(data, synth)
    config = PrepareConfig(size=image_size, faces="none")
    return prepare(read_dataset("ckplus", data), root / "cache", config, workers=1, progress=False)


def ckplus_like_subset(
    labels: np.ndarray, subjects: np.ndarray, n_sequences: int = CKPLUS_SEQUENCES, seed: int = 0
) -> np.ndarray:
    """Indices of about ``n_sequences`` clips in CK+'s class proportions, at least one of every subject."""
    rng = np.random.default_rng(seed)
    quotas = np.round(np.array(CKPLUS_COUNTS) * n_sequences / CKPLUS_SEQUENCES).astype(int)
    chosen = []
    for subject in rng.permutation(np.unique(subjects)):  # first one per subject: the neediest class
        own = rng.permutation(np.flatnonzero(subjects == subject))
        pick = own[np.argmax(quotas[labels[own]])]
        chosen.append(pick)
        quotas[labels[pick]] -= 1
    rest = np.setdiff1d(np.arange(len(labels)), chosen)
    for cls, quota in enumerate(quotas):
        pool = rest[labels[rest] == cls]
        chosen += rng.choice(pool, min(max(int(quota), 0), len(pool)), replace=False).tolist()
    return np.sort(np.array(chosen, dtype=int))


def ckplus_sized_folds(
    store: ClipStore, k: int = 10, n_sequences: int = CKPLUS_SEQUENCES, seed: int = 0
) -> tuple[list[Fold], np.ndarray]:
    """Subject k-folds over a CK+-like subset of ``store``: ``(folds, subset indices)``; every subject
    kept, no subject in two folds."""
    subjects = np.asarray(store.subjects)
    within = ckplus_like_subset(np.asarray(store.labels), subjects, n_sequences, seed)
    folds = subject_kfold(store.labels[within], subjects[within], k=k, seed=seed)
    return [Fold(f.index, within[f.train], within[f.test]) for f in folds], within


def write_ckplus_sized(source: Path, out: Path, n_sequences: int = CKPLUS_SEQUENCES, seed: int = 0) -> int:
    """Copy a CK+-like subset of the labelled sequences under ``source`` (CK+ layout, e.g. ``fer3d synth``
    output) into ``out``, a new folder in the same layout, so that ``fer3d prepare`` / ``evaluate`` /
    ``compare`` run on it as on CK+. Returns the number of sequences written."""
    import shutil

    if out.exists():
        raise SystemExit(f"{out}: exists; give a new folder")
    dataset = read_dataset("ckplus", source)
    labels = np.array([r.label for r in dataset.records])
    subjects = np.array([r.subject for r in dataset.records])
    chosen = ckplus_like_subset(labels, subjects, n_sequences, seed)
    for index in chosen:
        record = dataset.records[index]
        images = record.frames[0].parent
        shutil.copytree(images, out / images.relative_to(source))
        emotion = source / "Emotion" / record.sequence_id
        shutil.copytree(emotion, out / emotion.relative_to(source))
    return len(chosen)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Copy a CK+-sized subset of a CK+-layout set.")
    parser.add_argument("source", type=Path, help="a CK+-layout folder, e.g. made by fer3d synth")
    parser.add_argument("out", type=Path, help="new folder to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = write_ckplus_sized(args.source, args.out, seed=args.seed)
    print(f"wrote {n} sequences to {args.out}")
