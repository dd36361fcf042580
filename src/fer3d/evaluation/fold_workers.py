"""Several trainings at once in one-thread worker processes, when that beats one multi-thread process.

Small 3D convolutions scale badly across threads: every step of a multi-thread process waits at its
barriers for the slowest thread, and on a busy machine for cores held by others. Measured on 2 idle cores
(training clips/s, batch 16, the CPU recipe): at 32 px width 0.25, two one-thread processes together 197
against 157 for one two-thread process (+26 %); at 48 px width 0.25 about even (92 against 93; +12 % in
another run). Bigger models scale well across threads and take memory per process, so they keep one.
On a GPU, ``workers > 1`` puts several small trainings on the one device (not automatic: not measured).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import torch

from fer3d.config import ExperimentConfig
from fer3d.parent_watch import exit_with_parent
from fer3d.training.recipe import default_device

# input.size x model.width at or below which one-thread workers pay off on CPU. Measured on 2 idle cores,
# CK+ preset, width 0.25: two one-thread processes trained 73-78 clips/s at 64 px against 58-66 for one
# two-thread process (108 against 96-104 at 48 px). Larger models were not measured and keep one process.
SMALL_MODEL_SIDE = 16.0


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def auto_workers(config: ExperimentConfig, device: torch.device | str | None, tasks: int) -> int:
    """How many one-thread processes to train ``tasks`` independent models of ``config`` with."""
    device = torch.device(device) if device is not None else default_device()
    if device.type != "cpu" or config.input.size * config.model.width > SMALL_MODEL_SIDE:
        return 1
    return max(1, min(available_cores(), tasks))


def threads_per_worker(workers: int) -> int:
    return max(1, available_cores() // max(1, workers))


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes with ``cores // workers`` torch threads each, that exit when this
    process does. Spawned, not forked: a forked child can hang in its first OpenMP call when the parent
    has already used OpenMP."""
    threads = threads_per_worker(workers)
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(threads, os.getpid()),
    )


def _start_worker(threads: int, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
