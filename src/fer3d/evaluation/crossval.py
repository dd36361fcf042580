"""Resumable subject-wise cross-validation.

A run folder holds ``run.json`` (config, protocol, cache fingerprint, fold definitions), one
``folds/fold_XXX.json`` per finished fold (written atomically), and at the end ``metrics.json``,
``predictions.json`` and ``config.json``. Running the same command again skips finished folds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fer3d.atomic import claim_output_folder, has_entry, write_json_atomic
from fer3d.config import ConfigError, ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation.fold_progress import FoldProgress
from fer3d.evaluation.metrics import accuracy, confusion_matrix, per_class_recall
from fer3d.evaluation.splits import Fold, make_folds
from fer3d.runtime.workers import report_progress, worker_pool
from fer3d.training import predict_proba
from fer3d.training.inputs import load_clips
from fer3d.training.members import InitFn, StartingWeights, merge_records, train_members
from fer3d.training.recipe import Recipe, choose_recipe
from fer3d.training.trainer import EpochCallback


class RunMismatchError(ConfigError):
    """The output folder holds a different run (config, data or protocol)."""


@dataclass
class FoldResult:
    fold: int
    test_indices: list[int]
    predictions: list[int]
    probabilities: list[list[float]]
    accuracy: float
    train_seconds: float
    epoch_losses: list[float]
    data_fraction: float = 0.0  # share of training time spent preparing batches

    @classmethod
    def from_run(
        cls, fold: Fold, probs: np.ndarray, labels: np.ndarray, record: Any, start: float
    ) -> FoldResult:
        """The result of one trained fold: ``probs [n_test, K]``, true ``labels``, the fit record."""
        predictions = probs.argmax(axis=1)
        return cls(
            fold=fold.index,
            test_indices=fold.test.tolist(),
            predictions=predictions.tolist(),
            probabilities=np.round(probs, 6).tolist(),
            accuracy=accuracy(labels, predictions),
            train_seconds=time.perf_counter() - start,
            epoch_losses=record.epoch_losses,
            data_fraction=record.data_seconds / max(record.seconds, 1e-9),
        )

    @property
    def correct(self) -> int:
        return int(round(self.accuracy * len(self.test_indices)))


@dataclass
class CVResult:
    protocol: str
    folds: list[FoldResult]
    labels: np.ndarray  # true labels of every clip in the store
    class_names: tuple[str, ...]
    sequence_ids: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)

    @property
    def tested(self) -> np.ndarray:
        return np.concatenate([f.test_indices for f in self.folds]).astype(int)

    @property
    def predictions(self) -> np.ndarray:
        return np.concatenate([f.predictions for f in self.folds]).astype(int)

    @property
    def pooled_accuracy(self) -> float:
        return accuracy(self.labels[self.tested], self.predictions)

    @property
    def fold_accuracies(self) -> list[float]:
        return [f.accuracy for f in self.folds]

    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.labels[self.tested], self.predictions, len(self.class_names))

    def metrics(self) -> dict[str, Any]:
        matrix = self.confusion()
        recall = per_class_recall(matrix)
        return {
            "protocol": self.protocol,
            "pooled_accuracy": self.pooled_accuracy,
            "mean_fold_accuracy": float(np.mean(self.fold_accuracies)),
            "fold_accuracies": self.fold_accuracies,
            "per_class_recall": {
                n: (None if np.isnan(r) else float(r)) for n, r in zip(self.class_names, recall, strict=False)
            },
            "confusion_matrix": matrix.tolist(),
            "class_names": list(self.class_names),
            "n_tested": int(len(self.tested)),
            "train_seconds": float(sum(f.train_seconds for f in self.folds)),
        }


FoldCallback = Callable[[FoldResult, list[FoldResult], int], None]


def train_and_predict(
    store: ClipStore,
    config: ExperimentConfig,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    *,
    seed: int,
    recipe: Recipe,
    progress: bool = False,
    on_epoch: EpochCallback | None = None,
    init: InitFn | None = None,
) -> tuple[np.ndarray, Any]:
    """Train on ``train_idx`` and return the probabilities ``[n_test, K]`` of ``test_idx`` and the fit
    record. With ``config.test.ensemble`` N > 1, N members are trained from derived seeds (N times the
    training) and their probabilities averaged; ``init(model, member)`` prepares each fresh model (e.g.
    a warm start from a model folder)."""
    clips = load_clips(store, config.input)
    total: np.ndarray | None = None
    records = []
    for model, record in train_members(
        clips[train_idx],
        store.labels[train_idx],
        config,
        recipe,
        num_classes=store.num_classes,
        in_channels=store.channels,
        seed=seed,
        init=init,
        progress=progress,
        on_epoch=on_epoch,
    ):
        probs = predict_proba(model, clips[test_idx], config, recipe)
        total = probs if total is None else total + probs
        records.append(record)
        del model  # one member in memory at a time
    assert total is not None  # test.ensemble >= 1
    return total / len(records), merge_records(records)


def fold_seed(seed: int, fold: int) -> int:
    return seed * 1_000_003 + fold


def run_header(
    store: ClipStore,
    config: ExperimentConfig,
    protocol: str,
    folds: list[Fold],
    warm_start: StartingWeights | None = None,
) -> dict[str, Any]:
    header = {
        "config": config.to_dict(),
        "config_fingerprint": config.fingerprint(),
        "cache": str(store.path),
        "cache_fingerprint": store.fingerprint,
        "protocol": protocol,
        "folds": [{"index": f.index, "test": f.test.tolist()} for f in folds],
    }
    if warm_start is not None:  # absent without --init, as in run folders made before it existed
        header["init"] = warm_start.describe()
    return header


def _check_or_write_header(out_dir: Path, header: dict[str, Any]) -> None:
    path = out_dir / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        for key in ("config_fingerprint", "cache_fingerprint", "protocol", "folds", "init"):
            if old.get(key) != header.get(key):
                raise RunMismatchError(
                    f"{out_dir} holds a different run ({key} differs); use another --output or delete it"
                )
        return
    write_json_atomic(path, header)


def cross_validate(
    store: ClipStore,
    config: ExperimentConfig,
    protocol: str = "kfold",
    *,
    k: int = 10,
    split_seed: int = 0,
    folds: list[Fold] | None = None,
    out_dir: str | Path | None = None,
    on_fold: FoldCallback | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    workers: int = 1,
    warm_start: StartingWeights | None = None,
) -> CVResult:
    """Cross-validate ``config`` on ``store``; finished folds in ``out_dir`` are reused, not recomputed.

    ``on_fold(result, finished, n_folds)`` is called after every fold (reused ones included) and may raise
    to stop early (the search uses it to prune). With ``workers > 1`` the folds still to train run in that
    many processes (``cores // workers`` threads each; see ``runtime.workers``), in the order they finish;
    a fold's result does not depend on which process trained it, beyond float rounding across thread counts.
    With ``warm_start``, every model of every fold starts from that model folder's weights (checked to
    fit before any training).
    """
    if warm_start is not None:
        warm_start.check_fits(config, store.channels)
    if folds is None:
        folds = make_folds(protocol, store.labels, store.subjects, k=k, seed=split_seed)
    fold_dir = None
    if out_dir is not None:
        out = claim_output_folder(out_dir, has_entry("run.json"), "run folder")
        fold_dir = out / "folds"
        fold_dir.mkdir(parents=True, exist_ok=True)
        _check_or_write_header(out, run_header(store, config, protocol, folds, warm_start))
    finished: list[FoldResult] = []
    bar = tqdm(total=len(folds), desc=f"{protocol} folds", unit="fold", disable=not progress)
    fold_bars = FoldProgress(enabled=progress)  # each training fold's epoch, loss and time

    def saved_path(fold: Fold) -> Path | None:
        return fold_dir / f"{fold.name}.json" if fold_dir else None

    def load_saved(fold: Fold) -> FoldResult:
        return FoldResult(**json.loads(saved_path(fold).read_text()))  # type: ignore[union-attr]

    def save(result: FoldResult, fold: Fold) -> None:
        path = saved_path(fold)
        if path is not None:
            write_json_atomic(path, asdict(result))

    def record(result: FoldResult) -> None:
        finished.append(result)
        pooled = accuracy(
            store.labels[np.concatenate([f.test_indices for f in finished]).astype(int)],
            np.concatenate([f.predictions for f in finished]),
        )
        bar.update()
        bar.set_postfix(acc=f"{100 * pooled:.1f}%")
        if on_fold is not None:
            on_fold(result, finished, len(folds))

    pending = [fold for fold in folds if not ((path := saved_path(fold)) and path.exists())]
    to_train = {fold.index for fold in pending}
    if workers > 1 and len(pending) > 1:
        for fold in folds:
            if fold.index not in to_train:
                record(load_saved(fold))
        bar.set_postfix_str(f"starting {min(workers, len(pending))} worker processes", refresh=True)
        _train_in_workers(
            store,
            config,
            pending,
            device,
            workers,
            save,
            record,
            warm_start,
            fold_progress=fold_bars if progress else None,
        )
    else:
        recipe = choose_recipe(config, device)
        for fold in folds:
            if fold.index in to_train:
                result = train_fold(
                    store,
                    config,
                    fold,
                    recipe,
                    warm_start,
                    on_epoch=fold_bars.in_process(fold.index) if progress else None,
                )
                save(result, fold)
            else:
                result = load_saved(fold)
            record(result)
    fold_bars.close()
    bar.close()
    finished.sort(key=lambda f: f.fold)
    result = CVResult(
        protocol, finished, store.labels, store.class_names, store.sequence_ids, list(store.subjects)
    )
    if out_dir is not None:
        save_result(result, Path(out_dir), config)
    return result


def train_fold(
    store: ClipStore,
    config: ExperimentConfig,
    fold: Fold,
    recipe: Recipe,
    warm_start: StartingWeights | None = None,
    on_epoch: EpochCallback | None = None,
) -> FoldResult:
    """Train and test one fold (its seed follows ``config.seed`` and the fold index)."""
    start = time.perf_counter()
    probs, record = train_and_predict(
        store,
        config,
        fold.train,
        fold.test,
        seed=fold_seed(config.seed, fold.index),
        recipe=recipe,
        on_epoch=on_epoch,
        init=None if warm_start is None else warm_start.init_fn(store.class_names),
    )
    return FoldResult.from_run(fold, probs, store.labels[fold.test], record, start)


def _train_fold_in_worker(
    store_path: Path,
    config: ExperimentConfig,
    fold: Fold,
    device: torch.device | str | None,
    warm_start: StartingWeights | None,
) -> FoldResult:
    # the pool's initializer has set this process's threads; the recipe leaves them as they are
    def send(epoch: int, epochs: int, loss: float, seconds: float) -> None:
        report_progress((fold.index, epoch, epochs, loss, seconds))  # to the parent's FoldProgress

    return train_fold(
        ClipStore.open(store_path), config, fold, choose_recipe(config, device), warm_start, on_epoch=send
    )


def _train_in_workers(
    store: ClipStore,
    config: ExperimentConfig,
    pending: list[Fold],
    device: torch.device | str | None,
    workers: int,
    save: Callable[[FoldResult, Fold], None],
    record: Callable[[FoldResult], None],
    warm_start: StartingWeights | None = None,
    fold_progress: FoldProgress | None = None,
) -> None:
    """Train ``pending`` folds in worker processes; every fold that finishes is saved, even when
    ``record`` (``on_fold``) raises or the run is interrupted while others are still training."""
    on_progress = fold_progress.from_worker if fold_progress is not None else None
    with worker_pool(min(workers, len(pending)), on_progress=on_progress) as pool:
        futures = {
            pool.submit(_train_fold_in_worker, store.path, config, fold, device, warm_start): fold
            for fold in pending
        }
        try:
            for future in as_completed(futures):
                result = future.result()
                save(result, futures[future])
                record(result)
        except BaseException:
            for future in futures:
                future.cancel()
            for future, fold in futures.items():  # the folds already training: keep their work
                if not future.cancelled() and future.exception() is None:
                    save(future.result(), fold)
            raise


def save_result(result: CVResult, out_dir: Path, config: ExperimentConfig) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    config.to_json(out_dir / "config.json")
    write_json_atomic(out_dir / "metrics.json", result.metrics())
    rows = []
    for fold in result.folds:
        for index, pred, probs in zip(fold.test_indices, fold.predictions, fold.probabilities, strict=False):
            rows.append(
                {
                    "index": index,
                    "fold": fold.fold,
                    "sequence_id": result.sequence_ids[index] if result.sequence_ids else str(index),
                    "subject": result.subjects[index] if result.subjects else "",
                    "label": result.class_names[result.labels[index]],
                    "prediction": result.class_names[pred],
                    "probabilities": probs,
                }
            )
    write_json_atomic(out_dir / "predictions.json", rows)


def load_result(run_dir: str | Path) -> CVResult:
    """Rebuild a :class:`CVResult` from a finished run folder (for reports and significance tests)."""
    run_dir = Path(run_dir)
    header_path = run_dir / "run.json"
    if not header_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a fer3d run folder (no run.json)")
    header = json.loads(header_path.read_text())
    store = ClipStore.open(header["cache"])
    folds = []
    for fold in header["folds"]:
        path = run_dir / "folds" / f"fold_{fold['index']:03d}.json"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: the run is unfinished; run the same command again to resume"
            )
        folds.append(FoldResult(**json.loads(path.read_text())))
    return CVResult(
        header["protocol"], folds, store.labels, store.class_names, store.sequence_ids, list(store.subjects)
    )
