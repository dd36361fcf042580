"""The Optuna search as the inner search of nested cross-validation (``evaluation.nested``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import CVResult
from fer3d.evaluation.nested import nested_cv
from fer3d.search.study import SearchError, SearchSettings, best_config, run_search


@dataclass(frozen=True)
class OptunaInnerSearch:
    """:func:`~fer3d.search.study.run_search` on one outer training part, one study per outer fold.

    ``settings.out_dir`` and ``settings.study_name`` are replaced per outer fold (``NAME-outerXXX`` in
    the outer fold's folder); a ``settings.storage`` URL is shared by every outer fold, else each keeps
    its own ``search.db``.
    """

    settings: SearchSettings

    @property
    def base(self) -> ExperimentConfig:
        return self.settings.base

    def describe(self) -> dict[str, Any]:
        return {
            "protocol": self.settings.protocol,
            "n_trials": self.settings.n_trials,
            "threshold": self.settings.threshold,
        }

    def for_outer_fold(self, out_dir: Path, index: int) -> SearchSettings:
        """Search settings for one outer fold: its own folder, storage and study name."""
        changes: dict[str, Any] = {
            "out_dir": out_dir,
            "study_name": f"{self.settings.study_name}-outer{index:03d}",
        }
        if self.settings.storage is None:
            changes["storage"] = f"sqlite:///{(out_dir / 'search.db').resolve()}"
        return dataclasses.replace(self.settings, **changes)

    def choose(
        self, store: ClipStore, subset: np.ndarray, out_dir: Path, index: int
    ) -> tuple[ExperimentConfig, str]:
        settings = self.for_outer_fold(out_dir, index)
        study = run_search(store, settings, subset=subset, progress=False)
        try:
            return best_config(study), f"best of {len(study.trials)} trial(s), inner {settings.protocol}"
        except SearchError:
            # Every trial was pruned (threshold out of reach on this outer part): the base config is used.
            return settings.base, "no completed trial: base configuration used"


def nested_search(
    store: ClipStore,
    settings: SearchSettings,
    *,
    k: int = 10,
    split_seed: int = 0,
    out_dir: str | Path,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> CVResult:
    """Nested cross-validation with the Optuna search of ``settings`` inside each outer training part."""
    return nested_cv(
        store,
        OptunaInnerSearch(settings),
        k=k,
        split_seed=split_seed,
        out_dir=out_dir,
        device=device,
        progress=progress,
    )
