"""One search in several worker processes of this machine, sharing its study.

The study is created here first, so the workers only join it; each worker runs :func:`run_search` with
``cores // jobs`` threads (``runtime.workers``) and reports the trial it is on, which the progress bar
shows beside the study's counts.
"""

from __future__ import annotations

from concurrent.futures import wait
from pathlib import Path

import optuna
from tqdm import tqdm

from fer3d.data.cache import ClipStore
from fer3d.runtime.workers import report_progress, worker_pool
from fer3d.search.study import FINISHED, SearchSettings, create_or_load, load_study, run_search, study_summary

POLL_S = 2.0  # how often the parent reads the study's counts


def run_search_workers(
    store: ClipStore, settings: SearchSettings, jobs: int, *, progress: bool = True
) -> optuna.Study:
    """Run the search in ``jobs`` worker processes until the study holds ``settings.n_trials`` finished
    trials; returns the study. A worker's error is raised here once every worker has stopped."""
    create_or_load(store, settings)
    study = load_study(settings.study_name, settings.storage_url)
    on_trial: dict[int, str] = {}  # worker pid -> what it is doing

    def follow(pid: int, message: tuple[int, int, int]) -> None:
        trial, done, n = message
        on_trial[pid] = f"trial {trial} fold {done}/{n}"

    bar = tqdm(
        total=settings.n_trials,
        desc=f"search {settings.study_name} ({jobs} workers)",
        unit="trial",
        disable=not progress,
    )
    with bar, worker_pool(jobs, on_progress=follow) as pool:
        futures = [pool.submit(search_worker, store.path, settings) for _ in range(jobs)]
        pending = set(futures)
        while pending:
            pending = wait(pending, timeout=POLL_S).not_done
            finished = len(study.get_trials(deepcopy=False, states=FINISHED))
            bar.n = min(settings.n_trials, finished)
            doing = list(dict(on_trial).values())  # a copy: the listener thread adds to it
            workers = " | ".join(f"worker {i}: {text}" for i, text in enumerate(doing))
            workers = workers or f"starting {jobs} worker processes"
            bar.set_postfix_str(f"{study_summary(study)} | {workers}", refresh=True)
    for future in futures:
        future.result()  # raises the first worker's error, if any
    return study


def search_worker(store_path: Path, settings: SearchSettings) -> int:
    """The body of one worker process: returns how many trials the study holds finished when it leaves."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # this process's log: the parent's bar says it
    study = run_search(
        ClipStore.open(store_path),
        settings,
        progress=False,
        on_trial_step=lambda trial, done, n: report_progress((trial, done, n)),
    )
    return len(study.get_trials(deepcopy=False, states=FINISHED))
