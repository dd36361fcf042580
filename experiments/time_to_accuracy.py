"""Time to accuracy (DAWNBench style): pooled subject 10-fold accuracy reached against wall time, for the
``cpu`` profile as the presets define it when this runs ("new") and as it was ("old", frozen below).

Data: ``fer3d synth`` faces, 118 subjects at difficulty 0.6, cut to CK+'s 327 sequences and class
proportions (``experiments.ckplus_sized``); CK+ preset; the same subject folds in every row. Each profile
trains at half its epochs and at all of them (the augmentation ramp and lr warm-up scale with the
epochs; the cosine schedule always ends at the last epoch), each a whole 10-fold with the fold workers
``fer3d evaluate --workers auto`` would use, on the default device. A row: profile, epochs, wall time,
pooled accuracy. The summary gives each profile's first wall time at which it reached each target
accuracy, and old against new at full length by ``fer3d compare``'s tests on the same folds.

    python -m experiments.time_to_accuracy                  # ~40 min on 2 AVX-512 cores, ~90 on AVX2
    python -m experiments.time_to_accuracy --fractions 1    # full length only: two thirds of that
    python -m experiments.time_to_accuracy --quick          # smoke test: 24 subjects, 3 folds, 4 epochs

Writes ``experiments/results/time-to-accuracy-<environment>.json`` (``benchmarks.harness``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness

from experiments.ckplus_sized import CKPLUS_SEQUENCES, CKPLUS_SUBJECTS, ckplus_sized_folds, synthetic_store

NAME = "time-to-accuracy"
RESULTS = Path(__file__).resolve().parent / "results"
PRESET = "ckplus-paper"
# The ``cpu`` profile before issue 24, applied to the preset itself (the ``full`` profile), so that
# fields added to the profile later (EMA, label smoothing, ...) stay at their defaults here.
OLD_CPU_PROFILE: dict[str, Any] = {
    "input.size": 40,
    "model.width": 0.25,
    "train.epochs": 28,
    "train.augment.ramp_epochs": 14,
    "train.batch_size": 16,
    "train.lr": 3e-4,
}
TARGETS = (0.5, 0.6, 0.7, 0.8, 0.9)
DIFFICULTY = 0.6


def profiles() -> dict[str, Any]:
    """``{"old": config, "new": config}``: the frozen profile and the presets' ``cpu`` profile now."""
    from fer3d.presets import get_config

    return {"old": get_config(PRESET, "full", OLD_CPU_PROFILE), "new": get_config(PRESET, "cpu")}


def at_epochs(config, epochs: int):
    """``config`` trained for ``epochs``, its epoch-counted settings (ramp, warm-up) scaled alike."""
    scale = epochs / config.train.epochs
    overrides: dict[str, Any] = {"train.epochs": epochs}
    overrides["train.augment.ramp_epochs"] = round(config.train.augment.ramp_epochs * scale)
    if getattr(config.train, "warmup_epochs", 0):
        overrides["train.warmup_epochs"] = round(config.train.warmup_epochs * scale)
    return config.with_overrides(overrides)


def reached(rows: list[dict[str, Any]], targets: tuple[float, ...] = TARGETS) -> dict[str, float | None]:
    """For each target accuracy, the least wall time among ``rows`` that reached it (None: none did)."""
    out: dict[str, float | None] = {}
    for target in targets:
        times = [r["wall_s"] for r in rows if r["pooled_accuracy"] >= target]
        out[f"{target:.2f}"] = min(times) if times else None
    return out


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--work", type=Path, help="keep the data here (reused when present); default: a temp dir"
    )
    parser.add_argument(
        "--frames", type=int, help="frames per synthetic sequence (e.g. 3, as the real CK+ subset)"
    )
    parser.add_argument("--workers", type=int, help="fold processes (default: as --workers auto)")
    parser.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=[0.5, 1.0],
        help="of each profile's epochs, one row each",
    )


def run(args: argparse.Namespace, log: harness.Log) -> harness.Measured:
    if args.work is not None:
        return _run(args, args.work, log)
    with tempfile.TemporaryDirectory(prefix="fer3d-tta-") as tmp:
        return _run(args, Path(tmp), log)


def _run(args: argparse.Namespace, work: Path, log: harness.Log) -> harness.Measured:
    import numpy as np

    from fer3d.evaluation.crossval import cross_validate
    from fer3d.evaluation.stats import compare
    from fer3d.runtime import configure_process
    from fer3d.training.recipe import auto_workers, default_device

    configure_process()  # as ``fer3d evaluate`` starts: folds trained in this process run as they would there
    quick = args.quick
    subjects, k = (24, 3) if quick else (CKPLUS_SUBJECTS, 10)
    sequences = round(CKPLUS_SEQUENCES * subjects / CKPLUS_SUBJECTS)
    configs = profiles()
    if quick:  # a smoke test of the machinery, not a measurement
        configs = {name: at_epochs(c, 4) for name, c in configs.items()}
    size = max(c.input.size for c in configs.values())
    log(f"data: {subjects} synthetic subjects, difficulty {DIFFICULTY}, cached at {size} px in {work}")
    store = synthetic_store(work / "synth", subjects, size, difficulty=DIFFICULTY, frames=args.frames)
    folds, within = ckplus_sized_folds(store, k=k, n_sequences=sequences)
    log(
        f"{len(within)} sequences, class counts {np.bincount(store.labels[within]).tolist()}, "
        f"{k} subject folds"
    )
    device = default_device()
    fractions = (1.0,) if quick else tuple(sorted(args.fractions))
    rows, results = [], {}
    for name, config in configs.items():
        for fraction in fractions:
            epochs = max(1, round(config.train.epochs * fraction))
            trial = at_epochs(config, epochs)
            workers = args.workers or auto_workers(trial, device, len(folds))
            log(f"{name} profile, {epochs} epochs, {workers} worker(s): training {k} folds")
            start = time.perf_counter()

            def on_fold(fold, finished, n_folds, name=name, start=start) -> None:
                log(
                    f"{name}: fold {fold.fold} {100 * fold.accuracy:.0f}% ({len(finished)}/{n_folds} folds, "
                    f"{time.perf_counter() - start:.0f} s)"
                )

            result = cross_validate(
                store,
                trial,
                "kfold",
                folds=folds,
                device=device,
                progress=False,
                workers=workers,
                on_fold=on_fold,
            )
            wall = time.perf_counter() - start
            results[(name, epochs)] = result
            rows.append(
                {
                    "profile": name,
                    "epochs": epochs,
                    "workers": workers,
                    "wall_s": round(wall, 1),
                    "pooled_accuracy": result.pooled_accuracy,
                    "fold_accuracies": [round(a, 4) for a in result.fold_accuracies],
                    "train_s_per_fold": float(np.mean([f.train_seconds for f in result.folds])),
                }
            )
            log(
                f"{name} profile, {epochs} epochs: {100 * result.pooled_accuracy:.1f}% pooled in {wall:.0f} s"
            )
    full = {name: max((key for key in results if key[0] == name), key=lambda key: key[1]) for name in configs}
    comparison = compare(results[full["old"]], results[full["new"]], names=("old", "new"))
    summary = {
        "time_to_accuracy_s": {name: reached([r for r in rows if r["profile"] == name]) for name in configs},
        "old_vs_new": comparison.to_dict()["tests"],
    }
    log("old vs new: " + ", ".join(f"{t.name} p={t.p_value:.3g}" for t in comparison.tests))
    params = {
        "preset": PRESET,
        "profiles": {name: _profile_values(c) for name, c in configs.items()},
        "subjects": subjects,
        "sequences": int(len(within)),
        "difficulty": DIFFICULTY,
        "frames_per_sequence": args.frames or "6-18",
        "k": k,
        "device": str(device),
        "epoch_fractions": fractions,
        "targets": TARGETS,
    }
    return harness.Measured(params, rows, summary)


def _profile_values(config) -> dict[str, Any]:
    """The settings a reader compares between the two profiles."""
    from dataclasses import asdict

    train = asdict(config.train)
    return {"input.size": config.input.size, "model.width": config.model.width, "train": train}


if __name__ == "__main__":
    harness.main(
        NAME, run, add_arguments=_add_arguments, results=RESULTS, description=__doc__.splitlines()[0]
    )
