"""Nested cross-validation: search on inner folds, score once on each outer fold.

For every outer subject k-fold split, the architecture search runs on the outer *training* part only
(its own LOSO or k-fold inner folds, restricted to those clips), the best configuration is trained on
the whole outer training part and scored once on the outer test fold. The outer test subjects are never
seen by the search nor by the training that produces the score, so the pooled outer accuracy is an
unbiased estimate of "search + train" on new subjects, which "tune on LOSO, then report 10-fold on the
same data" is not. The search is given as an :class:`InnerSearch` (the Optuna one is
``fer3d.search.inner_search.OptunaInnerSearch``), so this module does not depend on the search package.

Layout of ``out_dir``: ``nested.json`` (settings, outer folds), ``outer_XXX/`` (the search of that
outer fold: its ``search.db`` and trial folders), and an ordinary run folder (``run.json``,
``folds/fold_XXX.json`` with the chosen config of each outer fold, ``metrics.json``) that
``crossval.load_result``, ``fer3d compare`` and ``fer3d report`` read. Finished outer folds are reused;
an interrupted search resumes from its storage.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

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


class InnerSearch(Protocol):
    """What nested cross-validation needs of a search."""

    @property
    def base(self) -> ExperimentConfig:
        """The configuration the search starts from (its fingerprint identifies the nested run)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What identifies the search besides ``base``, stored in ``run.json``; a resumed run must match."""
        ...

    def choose(
        self, store: ClipStore, subset: np.ndarray, out_dir: Path, index: int
    ) -> tuple[ExperimentConfig, str]:
        """Search on the clips ``subset`` only (an outer training part), keeping its files in ``out_dir``;
        returns the chosen configuration and a note on how it was chosen. ``index``: the outer fold."""
        ...


def nested_cv(
    store: ClipStore,
    search: InnerSearch,
    *,
    k: int = 10,
    split_seed: int = 0,
    out_dir: str | Path,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> CVResult:
    """Outer subject ``k``-fold around ``search``, which sees only each outer training part."""
    out = claim_output_folder(out_dir, has_entry("run.json"), "nested run folder")
    (out / "folds").mkdir(parents=True, exist_ok=True)
    folds = subject_kfold(store.labels, store.subjects, k=k, seed=split_seed)
    header = run_header(store, search.base, "nested", folds)
    header["inner"] = search.describe()
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
        config, note = search.choose(store, fold.train, out / f"outer_{fold.index:03d}", fold.index)
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
    save_result(result, out, search.base)
    write_json_atomic(
        out / "nested.json", {"k": k, "split_seed": split_seed, "chosen": chosen, **result.metrics()}
    )
    return result
