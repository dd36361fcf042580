"""Weight averaging and mirror test-time augmentation, each with and without, from ONE training per fold.

Every fold is trained once, exactly as ``fer3d evaluate`` trains it (same folds, seeds and recipe) while
an exponential moving average of the weights is kept. The fold is then tested four ways: the last
weights or the averaged ones (each with its batch norm recalibrated), each without and with mirror
TTA. Four run folders come out, readable by ``fer3d compare``: the pairs differ only
in the evaluation-time choice, so a paired test isolates it. The "last" folder equals a plain
``fer3d evaluate`` of the same config (the average is only tracked, never fed back into training).
Runs on the CPU (set OMP_NUM_THREADS for the thread count).

    python -m experiments.eval_time_ablation CACHE OUT --preset ckplus-paper --profile cpu --k 5 \
        --ema-decay 0.995 [--set key=value ...]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import torch

from fer3d.atomic import write_json_atomic
from fer3d.config import parse_overrides
from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import CVResult, FoldResult, fold_seed, run_header, save_result
from fer3d.evaluation.splits import make_folds
from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training import fit, predict_proba
from fer3d.training import trainer as trainer_module
from fer3d.training.batchnorm import recalibrate_batchnorm
from fer3d.training.ema import WeightAverage
from fer3d.training.inputs import load_clips
from fer3d.training.recipe import choose_recipe


class _KeepLastWeights(WeightAverage):
    """Records the model's last weights (and batch-norm buffers) just before the average replaces them."""

    last_state: dict[str, torch.Tensor] = {}

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        super().__init__(model, decay)
        self._model = model

    def load_into_model(self) -> None:
        _KeepLastWeights.last_state = {k: v.detach().clone() for k, v in self._model.state_dict().items()}
        super().load_into_model()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache")
    parser.add_argument("out")
    parser.add_argument("--preset", default="ckplus-paper")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--ema-decay", type=float, default=0.995)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()

    store = ClipStore.open(args.cache)
    base = get_config(
        args.preset, args.profile, {**parse_overrides(args.set), "train.ema_decay": 0.0, "test.mirror": False}
    )
    variants = {
        "last": base,
        "last_mirror": base.with_overrides({"test.mirror": True}),
        "ema": base.with_overrides({"train.ema_decay": args.ema_decay}),
        "ema_mirror": base.with_overrides({"train.ema_decay": args.ema_decay, "test.mirror": True}),
    }
    folds = make_folds("kfold", store.labels, store.subjects, k=args.k, seed=args.split_seed)
    out = Path(args.out)
    for name, config in variants.items():
        (out / name / "folds").mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / name / "run.json", run_header(store, config, "kfold", folds))
    trainer_module.WeightAverage = _KeepLastWeights  # type: ignore[misc]
    clips = load_clips(store, base.input)
    recipe = choose_recipe(variants["ema"], "cpu")
    results: dict[str, list[FoldResult]] = {name: [] for name in variants}
    for fold in folds:
        start = time.perf_counter()
        seed = fold_seed(base.seed, fold.index)
        torch.manual_seed(seed)  # as training.members does for member 0
        model = build_model(variants["ema"], store.num_classes, store.channels)
        train_clips, train_labels = clips[fold.train], store.labels[fold.train]
        record = fit(
            model,
            train_clips,
            train_labels,
            variants["ema"],
            recipe,
            num_classes=store.num_classes,
            seed=seed,
        )
        labels = store.labels[fold.test]
        for name in ("ema", "ema_mirror"):
            probs = predict_proba(model, clips[fold.test], variants[name], recipe)
            results[name].append(FoldResult.from_run(fold, probs, labels, record, start))
        model.load_state_dict(_KeepLastWeights.last_state)
        recalibrate_batchnorm(model, train_clips, base, recipe)  # as fit does for the weights it returns
        for name in ("last", "last_mirror"):
            probs = predict_proba(model, clips[fold.test], variants[name], recipe)
            results[name].append(FoldResult.from_run(fold, probs, labels, record, start))
        for name in variants:
            write_json_atomic(out / name / "folds" / f"{fold.name}.json", asdict(results[name][-1]))
        print(
            f"fold {fold.index}: "
            + " ".join(f"{n} {results[n][-1].accuracy:.3f}" for n in variants)
            + f" ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    for name, config in variants.items():
        result = CVResult(
            "kfold", results[name], store.labels, store.class_names, store.sequence_ids, list(store.subjects)
        )
        save_result(result, out / name, config)
        print(f"{name}: pooled {100 * result.pooled_accuracy:.2f}%")


if __name__ == "__main__":
    main()
