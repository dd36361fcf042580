"""``prepare``: records -> aligned uint8 clips, computed once and cached under a fingerprint."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from tqdm import tqdm

from fer3d.atomic import check_output_folder
from fer3d.config import ADDED_LATER, fingerprint, to_dict
from fer3d.data.cache import ClipStore, is_cache_folder, is_cache_root
from fer3d.data.cache import write_store as _write_store
from fer3d.data.errors import BadInputError, SkipLog
from fer3d.data.faces import make_cropper
from fer3d.data.lengths import ShortMode, fit_length
from fer3d.data.neutral import MIN_ONSET_SEQUENCE, onset_frames, with_neutral_onsets
from fer3d.data.records import Dataset, SequenceRecord
from fer3d.data.sequence_frames import last_frames


@dataclass(frozen=True)
class PrepareConfig:
    frames: int = 10  # the last `frames` frames of each sequence; shorter ones are fitted by `short`
    size: int = 112
    color: Literal["gray", "rgb"] = "gray"
    faces: Literal["none", "dlib"] = "none"
    margin: float = 0.25  # extra border around the eye-aligned face, as a fraction of its size
    upsample: int = 1  # dlib detector upsampling (finds smaller faces, slower)
    clahe_clip_limit: float = 2.0
    clahe_grid: int = 8
    # How a sequence shorter than `frames` becomes `frames` frames (see fer3d.data.lengths).
    short: ShortMode = field(default="pad", metadata=ADDED_LATER)
    # "onset": one extra clip per labelled sequence from its first frames, labelled "neutral"
    # (see fer3d.data.neutral).
    neutral: Literal["none", "onset"] = field(default="none", metadata=ADDED_LATER)


def apply_clahe(clip: np.ndarray, clip_limit: float, grid: int) -> np.ndarray:
    """CLAHE per frame; on RGB clips it equalises the L channel of Lab only."""
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(grid, grid))
    if clip.ndim == 3:
        return np.stack([clahe.apply(f) for f in clip])
    out = []
    for frame in clip:
        lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
        lab[..., 0] = clahe.apply(lab[..., 0])
        out.append(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))
    return np.stack(out)


def records_fingerprint(dataset: Dataset) -> str:
    """Hash of every record and of its files' sizes and modification times: edited data -> new cache."""
    rows = []
    for r in dataset.records:
        files = [r.video] if r.video is not None else list(r.frames)
        stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        rows.append((r.subject, r.sequence_id, r.label, stats))
    return fingerprint([dataset.name, list(dataset.class_names), rows])


def cache_path(cache_root: Path, dataset: Dataset, config: PrepareConfig) -> tuple[Path, str]:
    key = fingerprint([records_fingerprint(dataset), to_dict(config, omit_added_defaults=True)])
    return Path(cache_root) / f"{dataset.name}-{config.size}-{config.color}-{config.faces}-{key}", key


def _prepare_one(record: SequenceRecord, config: PrepareConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """(raw, clahe) clips of one record; None for an onset record whose sequence is too short."""
    if record.span == "onset":
        frames = onset_frames(record, config.frames, config.color)
        if frames is None:
            return None
    else:
        frames = last_frames(record, config.frames, config.color, pad=False)
    cropper = _cropper_for(config)
    raw = cropper.crop(fit_length(frames, config.frames, config.short), record.source)
    return raw, apply_clahe(raw, config.clahe_clip_limit, config.clahe_grid)


_CROPPERS: dict[PrepareConfig, object] = {}


def _cropper_for(config: PrepareConfig):
    """One cropper per process and config: the dlib models load once, not once per sequence."""
    if config not in _CROPPERS:
        _CROPPERS[config] = make_cropper(config.faces, config.size, config.margin, config.upsample)
    return _CROPPERS[config]


def _safe_prepare(args: tuple[SequenceRecord, PrepareConfig]):
    record, config = args
    try:
        return _prepare_one(record, config)
    except BadInputError as err:
        return err


def prepare(
    dataset: Dataset,
    cache_root: str | Path,
    config: PrepareConfig = PrepareConfig(),
    *,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> ClipStore:
    """Prepare (or reuse) the clip cache of ``dataset``. Bad sequences go through ``dataset.skip_log``."""
    target, key = cache_path(Path(cache_root), dataset, config)
    check_output_folder(cache_root, is_cache_root, "cache root (a folder of clip caches)")
    check_output_folder(target, is_cache_folder, "clip cache")
    if target.exists() and not force:
        try:
            return ClipStore.open(target)
        except BadInputError:
            pass  # an unreadable or older cache is rebuilt below
    source = dataset
    if config.neutral == "onset":
        dataset = with_neutral_onsets(dataset)
    workers = workers or os.cpu_count() or 1
    jobs = [(r, config) for r in dataset.records]
    bar = dict(total=len(jobs), desc=f"prepare {dataset.name}", unit="seq", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(tqdm(pool.map(_safe_prepare, jobs, chunksize=4), **bar))
    else:
        results = [_safe_prepare(j) for j in tqdm(jobs, **bar)]
    kept_records, raws, clahes = [], [], []
    skipped_ids: set[str] = set()
    too_short = 0
    for record, result in zip(dataset.records, results, strict=False):
        if isinstance(result, BadInputError):
            if record.span == "onset" and record.sequence_id.removesuffix("/onset") in skipped_ids:
                continue  # its sequence is already reported as skipped
            dataset.skip_log.handle(result)  # raises unless --skip-bad
            skipped_ids.add(record.sequence_id)
            continue
        if result is None:
            too_short += 1
            continue
        kept_records.append(record)
        raws.append(result[0])
        clahes.append(result[1])
    if not kept_records:
        raise BadInputError(dataset.root, "no usable sequence left after preparation")
    notes = list(source.notes)
    if config.neutral == "onset":
        onsets = sum(r.span == "onset" for r in kept_records)
        if onsets == 0:
            raise BadInputError(
                dataset.root,
                f"no sequence has the {MIN_ONSET_SEQUENCE}+ frames a neutral onset clip needs",
                "drop --neutral onset for this dataset",
            )
        notes.append(
            f"neutral: {onsets} onset clips (the first third of each labelled sequence)"
            + (
                f"; {too_short} sequences shorter than {MIN_ONSET_SEQUENCE} frames gave none"
                if too_short
                else ""
            )
        )
    meta = {
        "dataset": dataset.name,
        "root": str(dataset.root),
        "fingerprint": key,
        "class_names": list(dataset.class_names),
        "prepare": asdict(config),
        "records": [
            {"subject": r.subject, "sequence_id": r.sequence_id, "label": r.label, "source": r.source}
            for r in kept_records
        ],
        "skipped": dataset.skip_log.to_list(),
        "notes": notes,
    }
    return _write_store(target, np.stack(raws), np.stack(clahes), meta)


def skip_summary(skip_log: SkipLog) -> str:
    lines = [f"  skipped {s.path}: {s.reason}" for s in skip_log.skipped]
    return "\n".join(lines + [f"{len(skip_log.skipped)} input(s) skipped"])
