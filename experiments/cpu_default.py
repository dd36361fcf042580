"""Candidates for the ``cpu`` profile on the same subject folds: accuracy and training time.

Measures pooled and per-fold accuracy, training time and the paired tests against each row set's first
row, for input sizes, widths, batch sizes, epochs, the augmentation ramp and epoch schedules. A
synthetic set in CK+'s class proportions (40 subjects at difficulty 0.3, 109 sequences), subject
10-fold, the same folds for every row, Oulu preset unless ``--preset``; every row pins its batch size,
epochs and ramp, so rows keep their meaning when the profile changes. The cache is prepared at the
largest size and resized per process, so every row sees the same faces. Each row trains in its own
one-thread process (``--parallel`` at once, the costliest first); a killed run resumes from its finished
folds. Row sets (``--rows``): ``size`` (32-64 px, width 0.5, 10-30 epochs), ``batch`` (batch 8 at the
same optimiser steps), ``ramp`` (ramp against full augmentation from the start), ``steps`` (bigger inputs
at batch 8 in the default's time), ``schedule`` (dataset-sized epochs, bf16 against fp32). Writes
``experiments/results/cpu-default-<rows>-<environment>.json``.

    python -m experiments.cpu_default                  # --rows size: ~90 min on 2 cores
    python -m experiments.cpu_default --rows batch     # ~25 min on 2 cores (after --rows size)
    python -m experiments.cpu_default --rows schedule  # ~20 min on 2 cores
    python -m experiments.cpu_default --rows ramp      # ~25 min on 2 cores (after --rows size)
    python -m experiments.cpu_default --rows steps     # ~20 min on 2 cores
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from benchmarks import harness

from experiments.ckplus_sized import ckplus_sized_folds, synthetic_store
from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import cross_validate, load_result
from fer3d.evaluation.stats import compare
from fer3d.presets import get_config
from fer3d.runtime import configure_process

RESULTS = Path(__file__).resolve().parent / "results"

# Every row pins batch size, epochs and the augmentation ramp, so rows keep their meaning (and resume)
# when the profile changes.
SHORT = {
    "input.size": 48,
    "train.augment.ramp_epochs": 0,
    "train.batch_size": 16,
    "train.epochs": 24,
    "train.augment.epoch_size": "dataset",
}
MAJORITY_30 = {
    "train.precision": "fp32",
    "train.augment.ramp_epochs": 0,
    "train.batch_size": 16,
    "train.epochs": 30,
    "train.augment.epoch_size": "majority",
}
BATCH_8 = {**MAJORITY_30, "train.batch_size": 8}
RAMP_14 = {**MAJORITY_30, "model.width": 0.25, "train.augment.ramp_epochs": 14}
# The old CPU default, first in both "size" and "batch": the same name is the same run folder, trained once.
CPU_DEFAULT_ROW = {"48 px, width 0.25, 30 epochs": {**MAJORITY_30, "input.size": 48, "model.width": 0.25}}
# The CPU default now, first in "ramp" and "steps": one run folder, trained once for both.
RAMP_DEFAULT_ROW = {"40 px, 28 epochs, ramp 14": {**RAMP_14, "input.size": 40, "train.epochs": 28}}
ROW_SETS: dict[str, dict[str, dict[str, Any]]] = {
    "size": {
        **CPU_DEFAULT_ROW,
        "32 px, width 0.25, 30 epochs": {**MAJORITY_30, "input.size": 32, "model.width": 0.25},
        "36 px, width 0.25, 30 epochs": {**MAJORITY_30, "input.size": 36, "model.width": 0.25},
        "40 px, width 0.25, 30 epochs": {**MAJORITY_30, "input.size": 40, "model.width": 0.25},
        "40 px, width 0.25, 28 epochs": {**MAJORITY_30, "input.size": 40, "train.epochs": 28},
        "64 px, width 0.25, 30 epochs": {**MAJORITY_30, "input.size": 64, "model.width": 0.25},
        "64 px, width 0.25, 15 epochs": {**MAJORITY_30, "input.size": 64, "train.epochs": 15},
        "64 px, width 0.25, 10 epochs": {**MAJORITY_30, "input.size": 64, "train.epochs": 10},
        "48 px, width 0.5, 30 epochs": {**MAJORITY_30, "input.size": 48, "model.width": 0.5},
    },
    "batch": {  # the same optimiser steps on half the clips: are short CPU trainings step-limited?
        **CPU_DEFAULT_ROW,
        "48 px, batch 8, 15 epochs": {**BATCH_8, "input.size": 48, "train.epochs": 15},
        "48 px, batch 8, 20 epochs": {**BATCH_8, "input.size": 48, "train.epochs": 20},
        "64 px, batch 8, 15 epochs": {**BATCH_8, "input.size": 64, "train.epochs": 15},
        "64 px, batch 8, 12 epochs": {**BATCH_8, "input.size": 64, "train.epochs": 12},
        "56 px, batch 8, 15 epochs": {**BATCH_8, "input.size": 56, "train.epochs": 15},
    },
    "ramp": {  # the augmentation ramp (the CPU default now) against full augmentation and bigger settings
        **RAMP_DEFAULT_ROW,
        "40 px, width 0.25, 28 epochs": {**MAJORITY_30, "input.size": 40, "train.epochs": 28},
        "48 px, 30 epochs, ramp 14": {**RAMP_14, "input.size": 48},
        "64 px, 30 epochs, ramp 14": {**RAMP_14, "input.size": 64},
    },
    "steps": {  # more optimiser steps on bigger inputs in the CPU default's time (batch 8, fewer epochs)
        **RAMP_DEFAULT_ROW,
        "64 px, batch 8, 12 epochs, ramp 6": {
            **RAMP_14,
            "input.size": 64,
            "train.batch_size": 8,
            "train.epochs": 12,
            "train.augment.ramp_epochs": 6,
        },
        "56 px, batch 8, 14 epochs, ramp 7": {
            **RAMP_14,
            "input.size": 56,
            "train.batch_size": 8,
            "train.epochs": 14,
            "train.augment.ramp_epochs": 7,
        },
    },
    "schedule": {
        "24 dataset-sized epochs, fp32": {**SHORT, "train.precision": "fp32"},
        "24 dataset-sized epochs, bf16": {**SHORT, "train.precision": "bf16"},
        "CPU default (30 majority-sized epochs), fp32": {**MAJORITY_30, "input.size": 48},
    },
}
# "batch" shares the "size" rows' folder and 64 px cache: its first row is theirs, so it is not retrained
WORK_SUBDIRS = {"size": "size", "batch": "size", "ramp": "size", "steps": "size", "schedule": ""}
CACHE_SIZES = {"size": 64, "batch": 64, "ramp": 64, "steps": 64, "schedule": 48}


def _cost(preset: str, overrides: dict[str, Any]) -> float:
    """Relative training cost of a row, to start the longest first."""
    config = get_config(preset, profile="cpu", overrides=overrides)
    return (config.input.size * config.model.width) ** 2 * config.train.epochs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--sequences", type=int, default=110, help="kept in CK+'s class proportions")
    parser.add_argument("--difficulty", type=float, default=0.3)
    parser.add_argument("--preset", default="oulu-paper")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=2, help="rows at once, one thread each")
    parser.add_argument("--work", type=Path, default=Path("runs/bench-cpu-default"))
    parser.add_argument("--rows", choices=sorted(ROW_SETS), default="size")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the result file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    rows = ROW_SETS[args.rows]
    work = args.work / WORK_SUBDIRS[args.rows]  # where earlier runs resume
    store = synthetic_store(work, args.subjects, CACHE_SIZES[args.rows], difficulty=args.difficulty)
    folds, within = ckplus_sized_folds(store, k=args.k, n_sequences=args.sequences)
    print(f"{len(within)} sequences of {args.subjects} subjects, class counts "
          f"{np.bincount(store.labels[within]).tolist()}, {args.k} subject folds")  # fmt: skip
    context = multiprocessing.get_context("spawn")  # a forked child can hang in its first OpenMP op
    with ProcessPoolExecutor(args.parallel, mp_context=context) as pool:
        jobs = {
            name: pool.submit(_run_row, store.path, args.preset, rows[name], folds, work / slug(name))
            for name in sorted(rows, key=lambda name: -_cost(args.preset, rows[name]))
        }
        walls = {name: job.result() for name, job in jobs.items()}
    results = {name: load_result(work / slug(name)) for name in rows}
    reference = next(iter(rows))
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "rows": {}}
    print("\n| configuration | pooled accuracy | per-fold (%) | training time (1 thread) | vs first row |")
    print("| --- | --- | --- | --- | --- |")
    for name, result in results.items():
        per_fold = [f.accuracy for f in sorted(result.folds, key=lambda f: f.fold)]
        row: dict[str, Any] = {
            "pooled_accuracy": result.pooled_accuracy,
            "fold_accuracies": per_fold,
            "wall_s_this_run": walls[name],
            "train_s": sum(f.train_seconds for f in result.folds),
        }
        versus = ""
        if name != reference:
            comparison = compare(results[reference], result, names=(reference, name))
            row["tests"] = comparison.to_dict()["tests"]
            versus = ", ".join(f"{t.name} p={t.p_value:.2f}" for t in comparison.tests[1::2])
        report["rows"][name] = row
        folds_pct = " ".join(f"{100 * a:.0f}" for a in per_fold)
        print(f"| {name} | {100 * result.pooled_accuracy:.1f}% | {folds_pct} | "
              f"{row['train_s']:.0f} s training | {versus} |")  # fmt: skip
    rows_out = [{"configuration": name, **row} for name, row in report["rows"].items()]
    measured = harness.Measured(report["args"], rows_out)
    path = harness.write_result(f"cpu-default-{args.rows}", measured, harness.environment(), quick=False,
                                seconds=time.perf_counter() - started, root=args.results)  # fmt: skip
    print(f"wrote {path}")


def _run_row(store_path: Path, preset: str, overrides: dict, folds, out_dir: Path) -> float:
    configure_process(threads=1)  # as a fold worker sets itself up
    store = ClipStore.open(store_path)
    config = get_config(preset, profile="cpu", overrides=overrides)
    start = time.perf_counter()
    cross_validate(store, config, "kfold", folds=folds, out_dir=out_dir, device="cpu", progress=False)
    return time.perf_counter() - start


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


if __name__ == "__main__":
    main()
