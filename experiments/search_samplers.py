"""TPE against random search, and exact pruning's savings, on a synthetic dataset.

Measures the best pooled accuracy each sampler reaches after the same trials (over seeds), and the fold
trainings exact pruning saves (``python -m experiments.search_samplers``, ~10 min on 2 cores). Printed as a
table and written to ``experiments/results/search-samplers-<environment>.json``:
- trials per hour on this machine's cores, without pruning (measured) and with exact pruning (from the
  same trials' fold times: the folds pruning would have skipped are known exactly, since a trial's
  predictions do not depend on whether it is pruned later);
- the share of fold trainings exact pruning saves at the threshold (against every fold of every trial);
- TPE against random search: best pooled accuracy after the same number of trials, over several seeds;
- ``--jobs 2`` (two 1-thread workers) against ``--jobs 1`` (one 2-thread worker), trials per hour.

Defaults finish in about ten minutes on two busy cores: ``python -m experiments.search_samplers``. At that
scale the models stay near chance, so the sampler comparison says little. The comparison in the README
(about 50 minutes on 2 cores; ``--parallel 2`` runs two single-thread studies at once; a killed run
resumes its studies): ``--subjects 24 --difficulty 0 --size 32 --profile cpu --epochs 20 --protocol kfold
--k 3 --trials 12 --seeds 3 --startup-trials 5 --parallel 2 --threshold 0.5 --jobs-trials 0
--work runs/bench-search``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch
from benchmarks import harness
from optuna.trial import TrialState

from fer3d.data.cache import ClipStore
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset
from fer3d.data.synthetic import SynthConfig, generate
from fer3d.presets import get_config
from fer3d.search.objective import RUN_DIR
from fer3d.search.pruning import cannot_reach
from fer3d.search.study import SearchSettings, run_search

RESULTS = Path(__file__).resolve().parent / "results"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=5)
    parser.add_argument("--difficulty", type=float, default=0.1)
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--epochs", type=int, default=4, help="overrides the profile's epochs (0: keep)")
    parser.add_argument("--trials", type=int, default=3, help="trials per sampler and seed")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--protocol", default="loso", help="loso | kfold")
    parser.add_argument("--k", type=int, default=3, help="folds for kfold")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the sampler comparison")
    parser.add_argument("--startup-trials", type=int, default=10, help="TPE's random trials first")
    parser.add_argument("--size", type=int, default=48, help="input size (cache and model)")
    parser.add_argument(
        "--parallel", type=int, default=1, help="sampler x seed runs at once, each in its own process"
    )
    parser.add_argument("--jobs-trials", type=int, default=2, help="trials per --jobs setting (0: skip)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the result file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fer3d-bench-search-"))
    torch.set_num_threads(args.threads)
    data = work / "synth"
    if not (data / "Emotion").is_dir():
        generate(
            data,
            SynthConfig(
                subjects=args.subjects, seed=0, difficulty=args.difficulty, emotions=6, image_size=48
            ),
        )
    store = prepare(
        read_dataset("ckplus", data), work / "cache", PrepareConfig(size=args.size), workers=1, progress=False
    )
    overrides = {"input.size": args.size, **({"train.epochs": args.epochs} if args.epochs else {})}
    base = get_config("ckplus-paper", args.profile, overrides)
    n_folds = len(set(store.subjects.tolist()))
    print(
        f"{len(store)} clips, {n_folds} subjects (LOSO folds), profile {args.profile}, {args.threads} threads"
    )

    plan = [
        SearchSettings(
            f"{sampler}-{seed}",
            out_dir=work / "runs" / f"{sampler}-{seed}",
            base=base,
            n_trials=args.trials,
            threshold=args.threshold,
            sampler=sampler,
            seed=seed,
            pruner="none",
            startup_trials=args.startup_trials,
            warm_start=False,  # both samplers start from the same random points, not the paper's presets
            protocol=args.protocol,
            k=args.k,
        )
        for sampler in ("tpe", "random")
        for seed in range(args.seeds)
    ]
    start = time.perf_counter()
    # spawn, not fork: a forked child inherits the parent's OpenMP state and can hang in its first op.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.parallel, mp_context=context) as pool:
        futures = [pool.submit(_run_one, store.path, s, args.threshold, args.threads) for s in plan]
        runs = []
        for future in as_completed(futures):
            runs.append(future.result())
            r = runs[-1]
            print(
                f"{r['sampler']:6s} seed {r['seed']}: best {_pct(r['best_accuracy'])}, exact pruning keeps "
                f"{r['folds_with_pruning']}/{r['folds_trained']} folds, "
                f"prunes {r['would_prune']}/{r['trials']}, {3600 * r['trials'] / r['wall_seconds']:.0f} "
                "trials/h in this worker"
            )
    elapsed = time.perf_counter() - start
    runs.sort(key=lambda r: (r["sampler"], r["seed"]))

    jobs = _compare_jobs(store, work, args) if args.jobs_trials else []
    summary = _summarise(runs, jobs, args)
    summary["elapsed_seconds_this_run"] = elapsed
    _print_table(summary)
    measured = harness.Measured(_jsonable(vars(args)), runs, {**summary, "jobs_runs": jobs})
    path = harness.write_result("search-samplers", measured, harness.environment(), quick=False,
                                seconds=elapsed, root=args.results)  # fmt: skip
    print(f"wrote {path}")


def _run_one(store_path: Path, settings: SearchSettings, threshold: float, threads: int) -> dict:
    """One sampler x seed study, in its own process; its trials are replayed under exact pruning."""
    torch.set_num_threads(threads)
    store = ClipStore.open(store_path)
    study = run_search(store, settings, progress=False)
    trials = study.get_trials(states=FINISHED)
    # the trials' own wall times, not this call's: right also when a resumed study had trials done
    wall = sum(t.user_attrs["wall_seconds"] for t in trials)
    replay = [_replay_exact_pruning(Path(t.user_attrs[RUN_DIR]), store.labels, threshold) for t in trials]
    return {
        "sampler": settings.sampler,
        "seed": settings.seed,
        "trials": len(trials),
        "best_accuracy": max(t.value for t in trials),
        "accuracies": [t.value for t in trials],
        "configs": [t.params for t in trials],
        "trial_wall_seconds": [t.user_attrs["wall_seconds"] for t in trials],
        "wall_seconds": wall,
        "fold_seconds": sum(r["all_seconds"] for r in replay),
        "pruned_fold_seconds": sum(r["kept_seconds"] for r in replay),
        "folds_trained": sum(r["folds"] for r in replay),
        "folds_with_pruning": sum(r["kept_folds"] for r in replay),
        "would_prune": sum(r["kept_folds"] < r["folds"] for r in replay),
    }


def _replay_exact_pruning(run_dir: Path, labels: np.ndarray, threshold: float) -> dict:
    """Folds (and their training seconds) exact pruning would have run, from a full trial's saved folds."""
    folds = [json.loads(p.read_text()) for p in sorted((run_dir / "folds").glob("fold_*.json"))]
    total = sum(len(f["test_indices"]) for f in folds)
    correct = tested = kept = 0
    kept_seconds = 0.0
    for fold in folds:
        correct += int((labels[fold["test_indices"]] == np.array(fold["predictions"])).sum())
        tested += len(fold["test_indices"])
        kept += 1
        kept_seconds += fold["train_seconds"]
        if cannot_reach(correct, tested, total, threshold):
            break
    return {
        "folds": len(folds),
        "kept_folds": kept,
        "all_seconds": sum(f["train_seconds"] for f in folds),
        "kept_seconds": kept_seconds,
    }


def _compare_jobs(store, work: Path, args: argparse.Namespace) -> list[dict]:
    """Same trials through the CLI with 2 workers x 1 thread and 1 worker x 2 threads, no pruning."""
    out = []
    for jobs, threads in ((1, 2), (2, 1)):
        folder = work / f"jobs-{jobs}"
        cmd = [
            sys.executable, "-c", "from fer3d.cli import main; main()", "search", str(store.path),
            "--study", "jobs", "--n-trials", str(args.jobs_trials), "--pruner", "none",
            "--profile", args.profile, "-o", str(folder), "--jobs", str(jobs), "--no-progress",
            "--sampler", "random", "--protocol", args.protocol, "--k", str(args.k),
        ]  # fmt: skip
        cmd += ["--set", f"train.epochs={args.epochs}"] if args.epochs else []
        cmd += ["--threads", str(threads)] if jobs == 1 else []
        start = time.perf_counter()
        subprocess.run(
            cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"}
        )
        wall = time.perf_counter() - start
        rate = 3600 * args.jobs_trials / wall
        out.append({"jobs": jobs, "threads_per_job": threads, "wall_seconds": wall, "trials_per_hour": rate})
        print(f"--jobs {jobs} x {threads} thread(s): {out[-1]['trials_per_hour']:.1f} trials/h")
    return out


def _summarise(runs: list[dict], jobs: list[dict], args: argparse.Namespace) -> dict:
    by = {s: [r for r in runs if r["sampler"] == s] for s in ("tpe", "random")}
    n_trials = sum(r["trials"] for r in runs)
    overhead = sum(r["wall_seconds"] - r["fold_seconds"] for r in runs)  # sampling, storage, data loading
    return {
        "threshold": args.threshold,
        "trials_per_hour_no_pruning": 3600 * n_trials / sum(r["wall_seconds"] for r in runs),
        "trials_per_hour_exact_pruning": 3600
        * n_trials
        / (overhead + sum(r["pruned_fold_seconds"] for r in runs)),
        "fold_trainings_saved_by_exact_pruning": 1
        - sum(r["folds_with_pruning"] for r in runs) / sum(r["folds_trained"] for r in runs),
        "trials_exact_pruning_stops": sum(r["would_prune"] for r in runs) / n_trials,
        # TPE's first --startup-trials draws are random (the same points as random search's, seed for
        # seed); the trials after them show where each sampler spends its budget.
        "mean_accuracy_after_startup": {
            s: _mean([float(np.mean(r["accuracies"][args.startup_trials :])) for r in rs])
            for s, rs in by.items()
        },
        "best_accuracy": {
            s: {"mean": _mean([r["best_accuracy"] for r in rs]), "per_seed": [r["best_accuracy"] for r in rs]}
            for s, rs in by.items()
        },
        "jobs": {f"{j['jobs']}x{j['threads_per_job']}": j["trials_per_hour"] for j in jobs},
    }


def _print_table(summary: dict) -> None:
    rows = [
        ("trials/hour per worker, no pruning (measured)", f"{summary['trials_per_hour_no_pruning']:.0f}"),
        (
            f"trials/hour per worker, exact pruning at {summary['threshold']}",
            f"{summary['trials_per_hour_exact_pruning']:.0f}",
        ),
        (
            "fold trainings saved by exact pruning",
            f"{100 * summary['fold_trainings_saved_by_exact_pruning']:.0f}%",
        ),
        ("trials exact pruning stops early", f"{100 * summary['trials_exact_pruning_stops']:.0f}%"),
    ]
    for s, mean in summary["mean_accuracy_after_startup"].items():
        rows.append((f"{s}: mean accuracy of trials after TPE's random start", _pct(mean)))
    for s, b in summary["best_accuracy"].items():
        per_seed = ", ".join(_pct(v) for v in b["per_seed"])
        rows.append((f"{s}: best pooled accuracy, mean over seeds", f"{_pct(b['mean'])} ({per_seed})"))
    for name, rate in summary["jobs"].items():
        rows.append((f"--jobs x threads {name}: trials/hour", f"{rate:.1f}"))
    print("\n| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _jsonable(d: dict) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


if __name__ == "__main__":
    main()
