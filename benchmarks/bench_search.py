"""Search speed: trials per hour of ``fer3d search`` with one two-thread worker and two one-thread workers.

A tiny synthetic set (6 subjects, LOSO), the ``tiny`` profile, random sampling, no warm start and no
pruning, so both settings train the same kind of trials; wall time of the whole command, start-up
included. TPE against random search (accuracy) is an experiment: ``python -m experiments.search_samplers``.

    python -m benchmarks.bench_search [--quick]    # --quick: two workers only, fewer trials
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness

NAME = "search"
SUBJECTS = 6


def _cache(root: Path) -> Path:
    from fer3d.data.prepare import PrepareConfig, prepare
    from fer3d.data.registry import read_dataset
    from fer3d.data.synthetic import SynthConfig, generate

    generate(
        root / "synth", SynthConfig(subjects=SUBJECTS, seed=0, difficulty=0.3, emotions=6, image_size=48)
    )
    config = PrepareConfig(size=32, faces="none")
    return prepare(
        read_dataset("ckplus", root / "synth"), root / "cache", config, workers=1, progress=False
    ).path


def _search(cache: Path, out: Path, jobs: int, threads: int, trials: int, epochs: int) -> float:
    """Seconds ``fer3d search`` takes for ``trials`` trials with ``jobs`` workers of ``threads`` threads."""
    options = {
        "--study": "bench",
        "--n-trials": str(trials),
        "--sampler": "random",
        "--pruner": "none",
        "--profile": "tiny",
        "--set": f"train.epochs={epochs}",
        "--protocol": "loso",
        "--jobs": str(jobs),
        "-o": str(out),
    }
    cmd = [sys.executable, "-c", "from fer3d.cli import main; main()", "search", str(cache)]
    cmd += [*itertools.chain.from_iterable(options.items()), "--no-progress", "--no-warm-start"]
    cmd += ["--threads", str(threads)] if jobs == 1 else []
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - start


def run(args, log: harness.Log) -> harness.Measured:
    trials, epochs = (2, 2) if args.quick else (6, 4)
    settings = [(2, 1)] if args.quick else [(1, 2), (2, 1)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fer3d-bench-search-") as tmp:
        cache = _cache(Path(tmp))
        log(f"cache of {SUBJECTS} subjects ready")
        for jobs, threads in settings:
            seconds = _search(cache, Path(tmp) / f"search-{jobs}x{threads}", jobs, threads, trials, epochs)
            rows.append(
                {
                    "jobs": jobs,
                    "threads_per_job": threads,
                    "trials": trials,
                    "wall_s": round(seconds, 1),
                    "trials_per_hour": 3600 * trials / seconds,
                }
            )
            log(
                f"--jobs {jobs} x {threads} thread(s): {trials} trials in {seconds:.0f} s, "
                f"{rows[-1]['trials_per_hour']:.0f} trials/h"
            )
    params = {"subjects": SUBJECTS, "protocol": "loso", "profile": "tiny", "epochs": epochs, "size": 32}
    return harness.Measured(params, rows)


if __name__ == "__main__":
    harness.main(NAME, run)
