"""A cheap probe of short-sequence preprocessing: how much of the label a linear model can read from the
prepared clips, on the same subject folds, for each way of fitting a short sequence to the clip length.

It stands in for a C3D cross-validation where that is too costly: a logistic regression on every frame's
change from the clip's first frame (8x8 averages), scored by subject k-fold; ``fer3d.evaluation.stats``
then compares each arm with the first one (McNemar on pooled predictions, paired tests on folds).
It measures what the cache keeps and where it puts it in time, not what a 3D-CNN learns from it.

    python -m experiments.probe_short_sequences pad=CACHE linear=CACHE ... [--k 5] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import CVResult, FoldResult
from fer3d.evaluation.splits import make_folds
from fer3d.evaluation.stats import compare, format_comparison


def motion_features(store: ClipStore, grid: int = 8) -> np.ndarray:
    """``[N, (T-1) * grid * grid]``: each frame minus the first, averaged down to ``grid`` x ``grid``."""
    clips = store.clips(clahe=False).astype(np.float32) / 255.0
    n, t, s = clips.shape[:3]
    cell = s // grid
    small = clips[:, :, : cell * grid, : cell * grid].reshape(n, t, grid, cell, grid, cell).mean(axis=(3, 5))
    return (small[:, 1:] - small[:, :1]).reshape(n, -1)


def probe(store: ClipStore, k: int, seed: int) -> CVResult:
    features = motion_features(store)
    folds = make_folds("kfold", store.labels, store.subjects, k=k, seed=seed)
    results = []
    for fold in folds:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        model.fit(features[fold.train], store.labels[fold.train])
        probs = np.zeros((len(fold.test), store.num_classes))
        probs[:, model.classes_] = model.predict_proba(features[fold.test])
        predictions = probs.argmax(axis=1)
        results.append(
            FoldResult(
                fold=fold.index,
                test_indices=fold.test.tolist(),
                predictions=predictions.tolist(),
                probabilities=probs.tolist(),
                accuracy=float((predictions == store.labels[fold.test]).mean()),
                train_seconds=0.0,
                epoch_losses=[],
            )
        )
    return CVResult(
        "kfold", results, store.labels, store.class_names, store.sequence_ids, list(store.subjects)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("arms", nargs="+", help="NAME=CACHE; the first arm is the reference")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = {}
    for arm in args.arms:
        name, path = arm.split("=", 1)
        results[name] = probe(ClipStore.open(path), args.k, args.seed)
        accs = " ".join(f"{100 * a:.0f}" for a in results[name].fold_accuracies)
        print(f"{name}: pooled {100 * results[name].pooled_accuracy:.1f}%  folds {accs}")
    reference, *others = results
    for name in others:
        print(f"\n{reference} (A) vs {name} (B)")
        print(
            format_comparison(
                compare(results[reference], results[name], 0.95, (reference, name)), (reference, name), 0.95
            )
        )


if __name__ == "__main__":
    main()
