"""How long a CPU-default training sits at chance, per augmentation and learning-rate variant.

Measures epochs at chance and test accuracy of single folds (``python -m experiments.plateau``, ~15 min).

Trains single folds of the CK+-sized subject 10-fold that ``bench_training --cv-only`` reports (the same
118-subject synthetic set at difficulty 0.5, the same 327 sequences and folds), CK+ preset, CPU profile,
fp32, one thread per training and ``--parallel`` trainings at once. For each (variant, fold) it prints
the epochs spent at chance (before the epoch loss first falls below 95% of ln K, K the number of
classes) and the test accuracy, and writes ``experiments/results/plateau-<environment>.json``. Each
finished training is saved under ``--work``, so a killed run resumes.

    python -m experiments.plateau                # the variants below on folds 8 and 0: ~15 min
    python -m experiments.plateau --folds 8 4    # other folds
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import harness

from experiments.ckplus_sized import ckplus_sized_folds, synthetic_store
from experiments.cpu_default import slug
from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import train_fold
from fer3d.presets import get_config
from fer3d.runtime import configure_process
from fer3d.training.recipe import choose_recipe

RESULTS = Path(__file__).resolve().parent / "results"
NO_RAMP = {"train.augment.ramp_epochs": 0}
# variant -> overrides of the CPU profile; fold 0 runs the variants in FOLD_0_VARIANTS only
VARIANTS: dict[str, dict[str, Any]] = {
    "full augmentation from the start": NO_RAMP,
    "no rotation": {**NO_RAMP, "train.augment.rotation_deg": 0.0},
    "no mirror": {**NO_RAMP, "train.augment.mirror": False},
    "no contrast": {**NO_RAMP, "train.augment.contrast": [1.0, 1.0]},
    "no augmentation": {
        **NO_RAMP,
        "train.augment.mirror": False,
        "train.augment.rotation_deg": 0.0,
        "train.augment.contrast": [1.0, 1.0],
    },
    "lr 1.5e-4": {**NO_RAMP, "train.lr": 1.5e-4},
    "lr 6e-4": {**NO_RAMP, "train.lr": 6e-4},
    "ramp over 14 epochs (CPU default)": {"train.augment.ramp_epochs": 14},
    "ramp over 28 epochs": {"train.augment.ramp_epochs": 28},
}
FOLD_0_VARIANTS = ("full augmentation from the start", "no augmentation", "ramp over 14 epochs (CPU default)")


def epochs_at_chance(losses: list[float], num_classes: int) -> int:
    """Epochs before the loss first falls below 95% of ln K (all of them if it never does)."""
    bound = 0.95 * math.log(num_classes)
    return next((epoch for epoch, loss in enumerate(losses) if loss < bound), len(losses))


def _train(store_path: Path, overrides: dict[str, Any], fold, out: Path) -> dict[str, Any]:
    if out.exists():
        return json.loads(out.read_text())
    configure_process(threads=1)  # as a fold worker sets itself up
    store = ClipStore.open(store_path)
    config = get_config("ckplus-paper", profile="cpu", overrides=overrides)
    result = train_fold(store, config, fold, choose_recipe(config, "cpu"))
    record = {
        "fold": fold.index,
        "accuracy": result.accuracy,
        "epochs_at_chance": epochs_at_chance(result.epoch_losses, store.num_classes),
        "epoch_losses": result.epoch_losses,
        "train_seconds": result.train_seconds,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record) + "\n")
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, nargs="+", default=[8, 0])
    parser.add_argument("--parallel", type=int, default=2, help="trainings at once, one thread each")
    parser.add_argument("--work", type=Path, default=Path("runs/bench-plateau"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cpu = get_config("ckplus-paper", profile="cpu")
    store = synthetic_store(args.work, subjects=118, image_size=cpu.input.size)
    folds, _ = ckplus_sized_folds(store)
    jobs = [(name, fold) for fold in args.folds for name in VARIANTS if fold != 0 or name in FOLD_0_VARIANTS]
    context = multiprocessing.get_context("spawn")  # a forked child can hang in its first OpenMP op
    with ProcessPoolExecutor(args.parallel, mp_context=context) as pool:
        futures = {
            (name, fold): pool.submit(
                _train,
                store.path,
                VARIANTS[name],
                folds[fold],
                args.work / "runs" / f"{slug(name)}-fold{fold}.json",
            )
            for name, fold in jobs
        }
        records = {key: future.result() for key, future in futures.items()}
    print("\n| variant | fold | epochs at chance | test accuracy |")
    print("| --- | --- | --- | --- |")
    for (name, fold), record in records.items():
        print(f"| {name} | {fold} | {record['epochs_at_chance']} | {100 * record['accuracy']:.1f}% |")
    report = {f"{name} | fold {fold}": record for (name, fold), record in records.items()}
    rows = [{"variant": name, **record} for (name, _), record in records.items()]
    measured = harness.Measured({"folds": args.folds, "parallel": args.parallel}, rows)
    path = harness.write_result("plateau", measured, harness.environment(), quick=False,
                                seconds=time.perf_counter() - started, root=RESULTS)  # fmt: skip
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
