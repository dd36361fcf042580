"""Which objective to search on, and whether TPE (with cheap rungs) beats random search, on synthetic faces.

Data: ``fer3d synth`` faces cut to CK+'s size and class proportions (118 subjects, 327 sequences;
``experiments.ckplus_sized``), the CK+ preset's profile as the base, the paper's Table 1 space.

1. Rank correlation. ``--configs`` random points of the space, each scored by LOSO (the paper's objective)
   and by cheaper objectives: subject 10-fold and 5-fold, 5-fold on half the epochs (the default rung), and
   5-fold on a smaller input. Spearman's rho of each cheap objective's scores against LOSO's, and the
   share of LOSO's training time each costs. Every cross-validation is saved under ``--work`` and reused
   when the experiment is run again.
2. Samplers (``--samplers``): TPE, random search and TPE with rungs (``--fidelity rungs``), ``--seeds``
   studies of ``--trials`` trials each, LOSO objective, no warm start (the presets would give every method
   the same first trials). Best-so-far LOSO accuracy against the studies' own training time, as one figure
   (a line per study, optimisation-history style), and each method's time to within 1 point of the best
   configuration any run found.

    python -m experiments.search_evidence --quick            # what docs/search.md reports (minutes)
    python -m experiments.search_evidence --configs 20       # ranks on the CK+-sized set (see docs)
    python -m experiments.search_evidence --configs 0 --samplers --seeds 5 --trials 60

``--parallel P`` runs P one-thread processes at once (one per core). Writes
``experiments/results/search-evidence-<environment>.json`` and, with ``--samplers``, a ``.png`` beside it.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from benchmarks import harness
from scipy.stats import spearmanr

from experiments.ckplus_sized import CKPLUS_SEQUENCES, CKPLUS_SUBJECTS, ckplus_like_subset, synthetic_store
from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation.splits import loso, subset_folds
from fer3d.presets import get_config
from fer3d.search.rungs import Rung, RungSchedule
from fer3d.search.space import suggest

NAME = "search-evidence"
RESULTS = Path(__file__).resolve().parent / "results"
PRESET = "ckplus-paper"
METHODS = {"tpe": ("tpe", "single"), "random": ("random", "single"), "tpe+rungs": ("tpe", "rungs")}
WITHIN = 0.01  # "within 1 point of the best"


@dataclass(frozen=True)
class Objective:
    """LOSO (``rung`` None) or a cheap rung's subject k-fold."""

    name: str
    rung: Rung | None = None


def _objectives(subjects: int, size: int, quick: bool) -> list[Objective]:
    """LOSO and the cheap objectives; ``quick`` keeps 5-fold and the default rung only."""
    small = max(16, int(round(size * 0.75 / 4)) * 4)
    out = [Objective("loso")]
    out += [Objective("kfold10", Rung(k=10, epochs=1.0))] if subjects >= 10 and not quick else []
    out += [Objective("kfold5", Rung(k=5, epochs=1.0)), Objective("kfold5-epochs0.5", Rung(k=5, epochs=0.5))]
    out += [] if quick else [Objective(f"kfold5-size{small}", Rung(k=5, epochs=1.0, size=small))]
    return out


def _score(
    store_path: Path, within: list[int], config: ExperimentConfig, objective: Objective, out: Path
) -> dict[str, Any]:
    """One cross-validation in a one-thread process; its folds are saved in ``out`` (a rerun reuses them)."""
    import torch

    from fer3d.evaluation.crossval import cross_validate

    torch.set_num_threads(1)
    store = ClipStore.open(store_path)
    index = np.array(within)
    if objective.rung is None:
        folds = [f for f in subset_folds(loso(store.subjects), index) if len(f.test)]
        run_config, protocol = config, "loso"
    else:
        folds = objective.rung.folds(store.labels, store.subjects, seed=0, subset=index)
        run_config, protocol = objective.rung.config(config), "kfold"
    result = cross_validate(
        store, run_config, protocol, folds=folds, out_dir=out / run_config.fingerprint(), progress=False
    )
    return {"accuracy": result.pooled_accuracy, "train_seconds": sum(f.train_seconds for f in result.folds)}


def _random_configs(base: ExperimentConfig, n: int, seed: int) -> list[tuple[dict, ExperimentConfig]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), direction="maximize")
    out = []
    for _ in range(n):
        trial = study.ask()
        config = base.with_overrides(suggest(trial))
        out.append((trial.params, config))
        study.tell(trial, 0.0)
    return out


def rank_correlations(
    store: ClipStore, within: np.ndarray, base: ExperimentConfig, args: argparse.Namespace, log: harness.Log
) -> tuple[list[dict], dict]:
    subjects = len(np.unique(store.subjects[within]))
    objectives = _objectives(subjects, base.input.size, args.quick)
    configs = _random_configs(base, args.configs, seed=args.seed)
    rows: list[dict] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.parallel, mp_context=context) as pool:
        futures = {
            pool.submit(
                _score, store.path, within.tolist(), config, objective, args.work / "ranks" / objective.name
            ): (i, params, objective.name)
            for i, (params, config) in enumerate(configs)
            for objective in objectives
        }
        for future in as_completed(futures):
            i, params, name = futures[future]
            rows.append({"config": i, "objective": name, "params": params, **future.result()})
            log(f"config {i} {name}: {100 * rows[-1]['accuracy']:.1f}% in {rows[-1]['train_seconds']:.0f} s")
    rows.sort(key=lambda r: (r["config"], r["objective"]))
    table = {}
    by = {o.name: [r for r in rows if r["objective"] == o.name] for o in objectives}
    reference = np.array([r["accuracy"] for r in by["loso"]])
    loso_seconds = sum(r["train_seconds"] for r in by["loso"])
    for objective in objectives:
        scores = np.array([r["accuracy"] for r in by[objective.name]])
        rho, p = spearmanr(scores, reference) if len(scores) > 2 else (math.nan, math.nan)
        table[objective.name] = {
            "spearman_vs_loso": None if math.isnan(rho) else float(rho),
            "p_value": None if math.isnan(p) else float(p),
            "cost_share_of_loso": sum(r["train_seconds"] for r in by[objective.name]) / loso_seconds,
            "mean_accuracy": float(scores.mean()),
            "accuracy_spread": float(scores.max() - scores.min()),
        }
    summary = {"configs": len(configs), "subjects": subjects, "sequences": len(within), "ranks": table}
    return rows, summary


def _study(store_path: Path, within: list[int], settings_kw: dict[str, Any]) -> dict[str, Any]:
    """One sampler study in a one-thread process: per trial, its own training seconds and LOSO score."""
    import torch

    from fer3d.search.study import SearchSettings, run_search

    torch.set_num_threads(1)
    store = ClipStore.open(store_path)
    settings = SearchSettings(**settings_kw)
    study = run_search(store, settings, subset=np.array(within), progress=False)
    trials = sorted(
        (t for t in study.trials if t.datetime_complete is not None), key=lambda t: t.datetime_complete
    )
    return {
        "study": settings.study_name,
        "seconds": [t.user_attrs.get("wall_seconds", 0.0) for t in trials],
        "values": [t.value for t in trials],  # None: pruned (by a rung, or exactly)
    }


def compare_samplers(
    store: ClipStore, within: np.ndarray, base: ExperimentConfig, args: argparse.Namespace, log: harness.Log
) -> tuple[list[dict], dict]:
    plan = []
    for method, (sampler, fidelity) in METHODS.items():
        for seed in range(args.seeds):
            name = f"{method}-{seed}"
            plan.append(
                {
                    "study_name": name,
                    "out_dir": args.work / "samplers" / name,
                    "base": base,
                    "n_trials": args.trials,
                    "threshold": args.threshold,
                    "sampler": sampler,
                    "seed": seed,
                    "startup_trials": args.startup_trials,
                    "fidelity": fidelity,
                    "rungs": RungSchedule(),
                    "warm_start": False,
                    "heartbeat_interval": 30,
                    "grace_period": 120,
                }
            )
    runs = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.parallel, mp_context=context) as pool:
        futures = [pool.submit(_study, store.path, within.tolist(), kw) for kw in plan]
        for future in as_completed(futures):
            runs.append(future.result())
            last = runs[-1]
            best = max((v for v in last["values"] if v is not None), default=0.0)
            log(f"{last['study']}: best {100 * best:.1f}% in {sum(last['seconds']):.0f} s")
    best = max((v for r in runs for v in r["values"] if v is not None), default=0.0)
    summary: dict[str, Any] = {"best_known": best, "methods": {}}
    for method in METHODS:
        mine = [r for r in runs if r["study"].rsplit("-", 1)[0] == method]
        times = [_time_to(r, best - WITHIN) for r in mine]
        reached = [t for t in times if t is not None]
        summary["methods"][method] = {
            "seeds": len(mine),
            "reached_within_1_point": len(reached),
            "median_seconds_to_within_1_point": float(np.median(reached)) if reached else None,
            "times": times,
        }
    return runs, summary


def _time_to(run: dict, target: float) -> float | None:
    elapsed = 0.0
    for seconds, value in zip(run["seconds"], run["values"], strict=True):
        elapsed += seconds
        if value is not None and value >= target - 1e-12:
            return elapsed
    return None


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for method in METHODS:
        for i, run in enumerate(r for r in runs if r["study"].rsplit("-", 1)[0] == method):
            t = np.cumsum(run["seconds"]) / 3600
            best = np.maximum.accumulate([v if v is not None else -np.inf for v in run["values"]])
            ax.step(t, 100 * best, where="post", alpha=0.6, color=f"C{list(METHODS).index(method)}",
                    label=method if i == 0 else None)  # fmt: skip
    ax.set_xlabel("training time of the study's trials (hours, one core)")
    ax.set_ylabel("best LOSO accuracy so far (%)")
    ax.set_title("Optimisation history: TPE, random, TPE with rungs")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run(args: argparse.Namespace, log: harness.Log) -> harness.Measured:
    if args.quick:
        # the smallest setting where configurations still differ (at difficulty 0.6 and 6 epochs every
        # one sat at chance)
        args.subjects, args.sequences, args.size, args.profile, args.epochs = 8, 0, 32, "tiny", 12
        args.difficulty = 0.1
        args.configs = min(args.configs, 6)
        args.trials, args.seeds = min(args.trials, 4), min(args.seeds, 2)
    args.work = args.work or Path(tempfile.mkdtemp(prefix="fer3d-search-evidence-"))
    store = synthetic_store(args.work / "synth", args.subjects, args.size, difficulty=args.difficulty)
    if args.sequences:
        within = ckplus_like_subset(np.asarray(store.labels), np.asarray(store.subjects), args.sequences)
    else:
        within = np.arange(len(store))
    overrides: dict[str, Any] = {"input.size": args.size}
    overrides.update({"train.epochs": args.epochs} if args.epochs else {})
    base = get_config(PRESET, args.profile, overrides)
    log(f"{len(within)} sequences of {args.subjects} subjects, profile {args.profile}, work {args.work}")
    rows, summary = [], {}
    if args.configs:
        rank_rows, summary["ranks"] = rank_correlations(store, within, base, args, log)
        rows += [{"part": "ranks", **r} for r in rank_rows]
        for name, row in summary["ranks"]["ranks"].items():
            rho = row["spearman_vs_loso"]
            log(f"{name:22s} rho {'-' if rho is None else f'{rho:+.2f}'} "
                f"cost {100 * row['cost_share_of_loso']:.0f}% of LOSO")  # fmt: skip
    if args.samplers:
        runs, summary["samplers"] = compare_samplers(store, within, base, args, log)
        rows += [{"part": "samplers", **r} for r in runs]
        figure = harness.result_path(NAME, harness.environment(), args.results).with_suffix(".png")
        figure.parent.mkdir(parents=True, exist_ok=True)
        plot(runs, figure)
        summary["figure"] = str(figure)
        log(f"figure {figure}")
    params = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    return harness.Measured(params, rows, summary)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subjects", type=int, default=CKPLUS_SUBJECTS)
    parser.add_argument("--sequences", type=int, default=CKPLUS_SEQUENCES, help="CK+-like subset (0: all)")
    parser.add_argument("--difficulty", type=float, default=0.6)
    parser.add_argument("--size", type=int, default=40, help="input size (cache and model)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--epochs", type=int, default=0, help="overrides the profile's epochs (0: keep)")
    parser.add_argument("--configs", type=int, default=20, help="random configurations ranked (0: skip)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the ranked configurations")
    parser.add_argument("--samplers", action="store_true", help="also compare TPE, random and TPE+rungs")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=40, help="trials per sampler study")
    parser.add_argument("--startup-trials", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=0.0, help="exact pruning target of the studies")
    parser.add_argument("--parallel", type=int, default=2, help="one-thread processes at once")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder, reused by a rerun")


if __name__ == "__main__":
    harness.main(
        NAME, run, add_arguments=_add_arguments, results=RESULTS, description=__doc__.splitlines()[0]
    )
