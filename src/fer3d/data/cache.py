"""The clip cache: aligned uint8 clips on disk, written atomically, read as memory maps.

Layout of one cache folder::

    raw.npy     uint8 [N, T, S, S] (gray) or [N, T, S, S, 3] (rgb): aligned crops
    clahe.npy   the same clips after CLAHE, so a trial can switch CLAHE without face work
    meta.json   class names, per-clip subject / sequence id / label / source, options, skipped inputs
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from fer3d.atomic import atomic_folder, json_marker
from fer3d.data.errors import BadInputError

FORMAT_VERSION = 1

#: What `write_store` may replace: a folder holding a cache's meta.json.
is_cache_folder = json_marker("meta.json", "fingerprint")


def is_cache_root(folder: Path) -> bool:
    """A folder of caches (what `prepare -o` names): every entry is a cache or a fer3d temporary."""
    return all(".tmp-" in p.name or is_cache_folder(p) for p in folder.iterdir())


@dataclass(frozen=True)
class ClipStore:
    """A prepared dataset. Indices into it are the currency of splits, folds and predictions."""

    path: Path
    meta: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> ClipStore:
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.is_file():
            raise BadInputError(
                path, "not a fer3d clip cache (no meta.json)", "create one with `fer3d prepare`"
            )
        meta = json.loads(meta_file.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise BadInputError(path, "clip cache from another fer3d version", "run `fer3d prepare` again")
        return cls(path, meta)

    def clips(self, clahe: bool) -> np.ndarray:
        """uint8 ``[N, T, S, S]`` or ``[N, T, S, S, 3]``, memory-mapped (read once per process)."""
        return np.load(self.path / ("clahe.npy" if clahe else "raw.npy"), mmap_mode="r")

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.meta["class_names"])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return 3 if self.meta["prepare"]["color"] == "rgb" else 1

    @property
    def size(self) -> int:
        return int(self.meta["prepare"]["size"])

    @cached_property
    def labels(self) -> np.ndarray:
        return np.array([r["label"] for r in self.meta["records"]], dtype=np.int64)

    @cached_property
    def subjects(self) -> np.ndarray:
        return np.array([r["subject"] for r in self.meta["records"]])

    @cached_property
    def sequence_ids(self) -> list[str]:
        return [r["sequence_id"] for r in self.meta["records"]]

    def __len__(self) -> int:
        return len(self.meta["records"])


def write_store(target: Path, raw: np.ndarray, clahe: np.ndarray, meta: dict[str, Any]) -> ClipStore:
    """Write a cache folder atomically: a crash leaves no folder that looks complete."""
    with atomic_folder(target, is_cache_folder, "clip cache") as tmp:
        np.save(tmp / "raw.npy", raw)
        np.save(tmp / "clahe.npy", clahe)
        meta = {**meta, "format_version": FORMAT_VERSION}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    return ClipStore.open(target)
