"""``prepare``: records -> aligned uint8 clips, computed once and cached under a fingerprint."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from tqdm import tqdm

from fer3d.atomic import check_output_folder
from fer3d.config import fingerprint
from fer3d.data.cache import ClipStore, is_cache_folder, is_cache_root
from fer3d.data.cache import write_store as _write_store
from fer3d.data.errors import BadInputError, SkipLog
from fer3d.data.faces import make_cropper
from fer3d.data.records import Dataset, SequenceRecord
from fer3d.data.sequence_frames import last_frames


@dataclass(frozen=True)
class PrepareConfig:
    frames: int = 10  # the last `frames` frames of each sequence; shorter ones repeat their last frame
    size: int = 112
    color: Literal["gray", "rgb"] = "gray"
    faces: Literal["none", "dlib"] = "none"
    margin: float = 0.25  # extra border around the eye-aligned face, as a fraction of its size
    upsample: int = 1  # dlib detector upsampling (finds smaller faces, slower)
    clahe_clip_limit: float = 2.0
    clahe_grid: int = 8


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
    key = fingerprint([records_fingerprint(dataset), asdict(config)])
    return Path(cache_root) / f"{dataset.name}-{config.size}-{config.color}-{config.faces}-{key}", key


def _prepare_one(record: SequenceRecord, config: PrepareConfig) -> tuple[np.ndarray, np.ndarray]:
    cropper = _cropper_for(config)
    frames = last_frames(record, config.frames, config.color)
    raw = cropper.crop(frames, record.source)
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
    workers = workers or os.cpu_count() or 1
    jobs = [(r, config) for r in dataset.records]
    bar = dict(total=len(jobs), desc=f"prepare {dataset.name}", unit="seq", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(tqdm(pool.map(_safe_prepare, jobs, chunksize=4), **bar))
    else:
        results = [_safe_prepare(j) for j in tqdm(jobs, **bar)]
    kept_records, raws, clahes = [], [], []
    for record, result in zip(dataset.records, results, strict=False):
        if isinstance(result, BadInputError):
            dataset.skip_log.handle(result)  # raises unless --skip-bad
            continue
        kept_records.append(record)
        raws.append(result[0])
        clahes.append(result[1])
    if not kept_records:
        raise BadInputError(dataset.root, "no usable sequence left after preparation")
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
        "notes": dataset.notes,
    }
    return _write_store(target, np.stack(raws), np.stack(clahes), meta)


def skip_summary(skip_log: SkipLog) -> str:
    lines = [f"  skipped {s.path}: {s.reason}" for s in skip_log.skipped]
    return "\n".join(lines + [f"{len(skip_log.skipped)} input(s) skipped"])
