"""Transfer between datasets (the paper's Table 6): a configuration tuned on A, evaluated on B.

Both arms use the same subject k-fold split of B (so ``fer3d compare`` can pair them):

(a) ``scratch``: a fresh model trained on each training part of B;
(b) ``finetuned``: a model pre-trained once on all of A, its head mapped to B's classes
    (:mod:`fer3d.evaluation.labelmap`), then fine-tuned on each training part of B with the same recipe.

Target clips whose class has no source counterpart are dropped from both arms (count reported), and
predictions are restricted to the kept classes. Layout of ``out_dir``::

    pretrained.pt + pretrained.json   the model pre-trained on A (reused when config and caches match)
    scratch/   finetuned/             ordinary run folders (``crossval.load_result`` reads them)
    transfer.json                     Table 6 rows, label map, dropped count
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fer3d.atomic import atomic_file, claim_output_folder, has_entry, write_json_atomic
from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import (
    CVResult,
    FoldResult,
    RunMismatchError,
    fold_seed,
    run_header,
    save_result,
    train_and_predict,
)
from fer3d.evaluation.head_transfer import transfer_weights
from fer3d.evaluation.labelmap import LabelMap
from fer3d.evaluation.splits import Fold, subject_kfold
from fer3d.models import build_model
from fer3d.training import fit
from fer3d.training.inputs import load_clips
from fer3d.training.members import InitFn, StartingWeights
from fer3d.training.recipe import Recipe, choose_recipe

__all__ = ["ARMS", "TransferResult", "transfer"]

ARMS = ("scratch", "finetuned")
ARM_TITLES = {"scratch": "trained from scratch on B", "finetuned": "pre-trained on all of A, fine-tuned on B"}


@dataclass
class TransferResult:
    source: str
    target: str
    label_map: LabelMap
    dropped: int
    arms: dict[str, CVResult]

    def table6_rows(self) -> list[dict[str, Any]]:
        rows = []
        for arm, result in self.arms.items():
            accs = np.array(result.fold_accuracies)
            rows.append(
                {
                    "source": self.source,
                    "target": self.target,
                    "arm": arm,
                    "training": ARM_TITLES[arm],
                    "protocol": f"subject {len(result.folds)}-fold",
                    "pooled_accuracy": result.pooled_accuracy,
                    "mean_fold_accuracy": float(accs.mean()),
                    "std_fold_accuracy": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
                    "n_tested": int(len(result.tested)),
                    "dropped": self.dropped,
                }
            )
        return rows


def pretrain(
    source: ClipStore,
    config: ExperimentConfig,
    recipe: Recipe,
    out_dir: Path | None,
    *,
    progress: bool = True,
    warm_start: StartingWeights | None = None,
) -> dict[str, torch.Tensor]:
    """Train on every clip of ``source`` (from ``warm_start``'s weights when given); kept in
    ``out_dir/pretrained.pt`` for the same config, cache and warm start."""
    key = {"source_cache_fingerprint": source.fingerprint, "config_fingerprint": config.fingerprint()}
    if warm_start is not None:
        key["init"] = warm_start.describe()
    if (
        out_dir is not None
        and (out_dir / "pretrained.pt").exists()
        and (out_dir / "pretrained.json").exists()
    ) and json.loads((out_dir / "pretrained.json").read_text()) == key:
        return torch.load(out_dir / "pretrained.pt", map_location="cpu", weights_only=True)
    clips = load_clips(source, config.input)
    torch.manual_seed(config.seed)
    model = build_model(config, source.num_classes, source.channels)
    if warm_start is not None:
        warm_start.init_fn(source.class_names)(model, 0)
    fit(
        model,
        clips,
        source.labels,
        config,
        recipe,
        num_classes=source.num_classes,
        seed=config.seed,
        progress=progress,
    )
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_file(out_dir / "pretrained.pt") as tmp:
            torch.save(state, tmp)
        write_json_atomic(out_dir / "pretrained.json", key)
    return state


def transfer_folds(target: ClipStore, keep: np.ndarray, k: int, split_seed: int) -> list[Fold]:
    """Subject k-fold over the kept target clips, as indices into the whole target store."""
    kept = np.flatnonzero(keep)
    inner = subject_kfold(target.labels[kept], target.subjects[kept], k=k, seed=split_seed)
    return [Fold(f.index, kept[f.train], kept[f.test]) for f in inner]


def _arm_header(
    target: ClipStore,
    config: ExperimentConfig,
    folds: list[Fold],
    arm: str,
    source: ClipStore,
    warm_start: StartingWeights | None = None,
) -> dict:
    header = run_header(target, config, "kfold", folds, warm_start)
    header.update(
        {"arm": arm, "source_cache": str(source.path), "source_cache_fingerprint": source.fingerprint}
    )
    return header


def _check_header(out: Path, header: dict[str, Any]) -> None:
    path = out / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        keys = ("config_fingerprint", "cache_fingerprint", "source_cache_fingerprint", "folds", "arm", "init")
        for key in keys:
            if old.get(key) != header.get(key):
                raise RunMismatchError(
                    f"{out} holds a different transfer run ({key} differs); use another -o folder"
                )
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, header)


def _run_arm(
    target: ClipStore,
    config: ExperimentConfig,
    folds: list[Fold],
    allowed: np.ndarray,
    recipe: Recipe,
    init: InitFn | None,
    out: Path | None,
    desc: str,
    progress: bool,
) -> CVResult:
    finished: list[FoldResult] = []
    for fold in tqdm(folds, desc=desc, unit="fold", disable=not progress):
        saved = out / "folds" / f"{fold.name}.json" if out is not None else None
        if saved is not None and saved.exists():
            finished.append(FoldResult(**json.loads(saved.read_text())))
            continue
        start = time.perf_counter()
        probs, record = train_and_predict(
            target,
            config,
            fold.train,
            fold.test,
            seed=fold_seed(config.seed, fold.index),
            recipe=recipe,
            init=init,
        )
        probs[:, ~allowed] = 0.0  # a dropped class can never be predicted
        probs /= probs.sum(axis=1, keepdims=True)
        result = FoldResult.from_run(fold, probs, target.labels[fold.test], record, start)
        if saved is not None:
            saved.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(saved, asdict(result))
        finished.append(result)
    result = CVResult(
        "kfold", finished, target.labels, target.class_names, target.sequence_ids, list(target.subjects)
    )
    if out is not None:
        save_result(result, out, config)
    return result


def transfer(
    source: ClipStore,
    target: ClipStore,
    config: ExperimentConfig,
    *,
    k: int = 10,
    split_seed: int = 0,
    out_dir: str | Path | None = None,
    device: torch.device | str | None = None,
    extra_map: dict[str, str] | None = None,
    arms: tuple[str, ...] = ARMS,
    progress: bool = True,
    warm_start: StartingWeights | None = None,
) -> TransferResult:
    """Evaluate ``config`` on ``target`` from scratch and fine-tuned from ``source``; resumable per fold.

    With ``warm_start`` (``--init``), the "scratch" arm's folds and the pre-training on ``source`` start
    from that model folder's weights instead of a fresh initialisation."""
    if warm_start is not None:
        warm_start.check_fits(config, target.channels)
    if source.channels != target.channels:
        raise ValueError(
            f"source cache {source.path} has {source.channels} channel(s) but target {target.path} has "
            f"{target.channels}: prepare both with the same --color"
        )
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        raise ValueError(f"unknown transfer arm(s) {unknown}; choose from {list(ARMS)}")
    label_map = LabelMap.by_name(source.class_names, target.class_names, extra_map)
    keep = label_map.target_keep(target.labels)
    allowed = np.array([s >= 0 for s in label_map.target_to_source])
    folds = transfer_folds(target, keep, k, split_seed)
    recipe = choose_recipe(config, device)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        known = has_entry("transfer.json", "pretrained.json", "scratch/run.json", "finetuned/run.json")
        claim_output_folder(out, known, "transfer folder")
    results: dict[str, CVResult] = {}
    for arm in arms:
        arm_out = out / arm if out is not None else None
        if arm_out is not None:
            _check_header(arm_out, _arm_header(target, config, folds, arm, source, warm_start))
        if arm == "scratch":
            init = None if warm_start is None else warm_start.init_fn(target.class_names)
        else:
            state = pretrain(source, config, recipe, out, progress=progress, warm_start=warm_start)

            def init(model: nn.Module, member: int, state=state) -> None:
                transfer_weights(state, model, label_map)

        results[arm] = _run_arm(
            target, config, folds, allowed, recipe, init, arm_out, f"{arm} folds", progress
        )
    result = TransferResult(
        source.meta.get("dataset", source.path.name),
        target.meta.get("dataset", target.path.name),
        label_map,
        int((~keep).sum()),
        results,
    )
    if out is not None:
        write_json_atomic(
            out / "transfer.json",
            {
                "source_cache": str(source.path),
                "target_cache": str(target.path),
                "config": config.to_dict(),
                "k": k,
                "split_seed": split_seed,
                "label_map": label_map.to_dict(),
                "dropped": result.dropped,
                "rows": result.table6_rows(),
            },
        )
    return result
