"""Nested cross-validation: search on inner folds, score once on each outer fold.

For every outer subject k-fold split, the architecture search runs on the outer *training* part only
(its own LOSO or k-fold inner folds, restricted to those clips), the best configuration is trained on
the whole outer training part and scored once on the outer test fold. The outer test subjects are never
seen by the search nor by the training that produces the score, so the pooled outer accuracy is an
unbiased estimate of "search + train" on new subjects, which "tune on LOSO, then report 10-fold on the
same data" is not.

Layout of ``out_dir``: ``nested.json`` (settings, outer folds), ``outer_XXX/`` (the search of that
outer fold: its ``search.db`` and trial folders), and an ordinary run folder (``run.json``,
``folds/fold_XXX.json`` with the chosen config of each outer fold, ``metrics.json``) that
``crossval.load_result``, ``fer3d compare`` and ``fer3d report`` read. Finished outer folds are reused;
an interrupted search resumes from its storage.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fer3d.atomic import claim_output_folder, has_entry, write_json_atomic
from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation import crossval
from fer3d.evaluation.crossval import (
    CVResult,
    FoldResult,
    fold_seed,
    run_header,
    save_result,
)
from fer3d.evaluation.metrics import accuracy
from fer3d.evaluation.splits import subject_kfold
from fer3d.training.recipe import choose_recipe

# (store, settings for this outer fold, outer training indices) -> (chosen config, note)
SearchFn = Callable[[ClipStore, Any, np.ndarray], tuple[ExperimentConfig, str]]


def optuna_search(store: ClipStore, settings: Any, subset: np.ndarray) -> tuple[ExperimentConfig, str]:
    """The default inner search: :func:`fer3d.search.study.run_search` restricted to ``subset``."""
    from fer3d.search.study import SearchError, best_config, run_search

    study = run_search(store, settings, subset=subset, progress=False)
    try:
        return best_config(study), f"best of {len(study.trials)} trial(s), inner {settings.protocol}"
    except SearchError:
        # Every trial was pruned (threshold out of reach on this outer part): the base config is used.
        return settings.base, "no completed trial: base configuration used"


def outer_settings(settings: Any, outer_dir: Path, index: int) -> Any:
    """Search settings for one outer fold: its own folder, storage and study name."""
    changes: dict[str, Any] = {"out_dir": outer_dir, "study_name": f"{settings.study_name}-outer{index:03d}"}
    if getattr(settings, "storage", None) is None:
        changes["storage"] = f"sqlite:///{(outer_dir / 'search.db').resolve()}"
    return dataclasses.replace(settings, **changes)


def nested_cv(
    store: ClipStore,
    settings: Any,
    *,
    k: int = 10,
    split_seed: int = 0,
    out_dir: str | Path,
    search: SearchFn = optuna_search,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> CVResult:
    """Outer subject ``k``-fold around an inner search; ``settings`` is a search ``SearchSettings``."""
    out = claim_output_folder(out_dir, has_entry("run.json"), "nested run folder")
    (out / "folds").mkdir(parents=True, exist_ok=True)
    folds = subject_kfold(store.labels, store.subjects, k=k, seed=split_seed)
    header = run_header(store, settings.base, "nested", folds)
    header["inner"] = {
        "protocol": settings.protocol,
        "n_trials": settings.n_trials,
        "threshold": settings.threshold,
    }
    old_path = out / "run.json"
    if old_path.exists():
        old = json.loads(old_path.read_text())
        for key in ("cache_fingerprint", "folds", "config_fingerprint", "inner"):
            if old.get(key) != header[key]:
                raise crossval.RunMismatchError(
                    f"{out} holds a different nested run ({key} differs); use another -o"
                )
    else:
        write_json_atomic(old_path, header)
    finished: list[FoldResult] = []
    chosen: list[dict[str, Any]] = []
    bar = tqdm(folds, desc="nested outer folds", unit="fold", disable=not progress)
    for fold in bar:
        saved = out / "folds" / f"{fold.name}.json"
        choice_path = out / "folds" / f"{fold.name}.config.json"
        if saved.exists() and choice_path.exists():
            finished.append(FoldResult(**json.loads(saved.read_text())))
            chosen.append(json.loads(choice_path.read_text()))
            continue
        start = time.perf_counter()
        outer_dir = out / f"outer_{fold.index:03d}"
        config, note = search(store, outer_settings(settings, outer_dir, fold.index), fold.train)
        # The score: trained on the outer training part only, tested once on the untouched outer fold.
        probs, record = crossval.train_and_predict(
            store,
            config,
            fold.train,
            fold.test,
            seed=fold_seed(config.seed, fold.index),
            recipe=choose_recipe(config, device),
        )
        result = FoldResult.from_run(fold, probs, store.labels[fold.test], record, start)
        choice = {"fold": fold.index, "config": config.to_dict(), "note": note}
        write_json_atomic(choice_path, choice)
        write_json_atomic(saved, asdict(result))
        finished.append(result)
        chosen.append(choice)
        pooled = accuracy(
            store.labels[np.concatenate([f.test_indices for f in finished]).astype(int)],
            np.concatenate([f.predictions for f in finished]),
        )
        bar.set_postfix(acc=f"{100 * pooled:.1f}%")
    result = CVResult(
        "nested", finished, store.labels, store.class_names, store.sequence_ids, list(store.subjects)
    )
    save_result(result, out, settings.base)
    write_json_atomic(
        out / "nested.json", {"k": k, "split_seed": split_seed, "chosen": chosen, **result.metrics()}
    )
    return result
