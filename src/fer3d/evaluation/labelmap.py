"""Explicit class mapping between two datasets, by emotion name.

Names are compared after lower-casing and folding common synonyms onto one canonical name
(``happy``/``happiness`` -> ``happy``, ``sad`` -> ``sadness``, ...). CK+ -> Oulu-CASIA therefore maps
anger, disgust, fear, happy->happiness, sadness, surprise; CK+'s ``contempt`` has no counterpart.

What happens to unmapped classes in a transfer from source A to target B:

- a target class with no source class (``contempt`` when the target is CK+ and the source Oulu-CASIA):
  its clips are dropped from the target evaluation, in both arms, and the count is reported, so that
  "from scratch" and "fine-tuned" are scored on the same clips and classes;
- a source class with no target class (``contempt`` when the source is CK+): it is used in pre-training
  (the model is pre-trained on all of A) and its classifier row is discarded when the head is mapped.

The target head keeps the target's class order; row ``i`` is copied from the source row of the class
mapped to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SYNONYMS = {
    "happiness": "happy",
    "happy": "happy",
    "joy": "happy",
    "sad": "sadness",
    "sadness": "sadness",
    "angry": "anger",
    "anger": "anger",
    "surprised": "surprise",
    "surprise": "surprise",
    "fearful": "fear",
    "fear": "fear",
    "disgusted": "disgust",
    "disgust": "disgust",
    "contempt": "contempt",
    "neutral": "neutral",
}

UNMAPPED = -1


def canonical(name: str) -> str:
    key = name.strip().lower()
    return SYNONYMS.get(key, key)


@dataclass(frozen=True)
class LabelMap:
    """Source and target class names and, for each class of one side, its index on the other (-1: none)."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    source_to_target: tuple[int, ...]
    target_to_source: tuple[int, ...]

    @classmethod
    def by_name(
        cls, source: Sequence[str], target: Sequence[str], extra: dict[str, str] | None = None
    ) -> LabelMap:
        """Match classes by canonical name; ``extra`` adds explicit ``{source_name: target_name}`` pairs."""
        source, target = tuple(source), tuple(target)
        for side, names in (("source", source), ("target", target)):
            keys = [canonical(n) for n in names]
            if len(set(keys)) != len(keys):
                raise ValueError(f"{side} class names {list(names)} collide after canonicalisation")
        target_index = {canonical(n): i for i, n in enumerate(target)}
        s2t = [target_index.get(canonical(n), UNMAPPED) for n in source]
        for src_name, tgt_name in (extra or {}).items():
            if src_name not in source or tgt_name not in target:
                raise ValueError(
                    f"extra mapping {src_name!r}->{tgt_name!r} names a class that does not exist"
                )
            s2t[source.index(src_name)] = target.index(tgt_name)
        mapped = [t for t in s2t if t != UNMAPPED]
        if len(set(mapped)) != len(mapped):
            raise ValueError("two source classes map to the same target class")
        t2s = [UNMAPPED] * len(target)
        for s, t in enumerate(s2t):
            if t != UNMAPPED:
                t2s[t] = s
        if not mapped:
            raise ValueError(f"no class of {list(source)} matches a class of {list(target)}")
        return cls(source, target, tuple(s2t), tuple(t2s))

    @property
    def unmapped_source(self) -> tuple[str, ...]:
        return tuple(n for n, t in zip(self.source, self.source_to_target, strict=True) if t == UNMAPPED)

    @property
    def unmapped_target(self) -> tuple[str, ...]:
        return tuple(n for n, s in zip(self.target, self.target_to_source, strict=True) if s == UNMAPPED)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [
            (self.source[s], self.target[t]) for s, t in enumerate(self.source_to_target) if t != UNMAPPED
        ]

    def to_target(self, source_labels: np.ndarray) -> np.ndarray:
        """Source class indices -> target indices (-1 where the class has no counterpart)."""
        return np.asarray(self.source_to_target, dtype=np.int64)[np.asarray(source_labels, dtype=np.int64)]

    def to_source(self, target_labels: np.ndarray) -> np.ndarray:
        """Target class indices -> source indices (-1 where the class has no counterpart)."""
        return np.asarray(self.target_to_source, dtype=np.int64)[np.asarray(target_labels, dtype=np.int64)]

    def target_keep(self, target_labels: np.ndarray) -> np.ndarray:
        """Boolean mask of target clips whose class exists in the source."""
        return self.to_source(target_labels) != UNMAPPED

    def describe(self) -> str:
        lines = [f"  {s} -> {t}" for s, t in self.pairs]
        if self.unmapped_source:
            lines.append(
                f"  source only (pre-trained on, head row discarded): {', '.join(self.unmapped_source)}"
            )
        if self.unmapped_target:
            lines.append(f"  target only (clips dropped from the target): {', '.join(self.unmapped_target)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "pairs": self.pairs,
            "unmapped_source": list(self.unmapped_source),
            "unmapped_target": list(self.unmapped_target),
        }
