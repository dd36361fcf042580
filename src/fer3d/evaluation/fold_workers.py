"""Several trainings at once in one-thread worker processes, when that beats one multi-thread process.

Small 3D convolutions scale badly across threads: every step of a multi-thread process waits at its
barriers for the slowest thread, and on a busy machine for cores held by others. Measured on 2 idle cores
(training clips/s, batch 16, the CPU recipe): at 32 px width 0.25, two one-thread processes together 197
against 157 for one two-thread process (+26 %); at 48 px width 0.25 about even (92 against 93; +12 % in
another run). Bigger models scale well across threads and take memory per process, so they keep one.
On a GPU a small model leaves the device idle between its many short kernels, so several small
trainings share it: measured on an H200 at the CPU default (40 px, width 0.25), one process trained 2580
clips/s, two 4821 and four 8596 together (3.3x), and a CK+-sized 10-fold took 45 s with four fold
processes against 70 s with one. Larger models keep one process on the GPU.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import torch

from fer3d.config import ExperimentConfig
from fer3d.parent_watch import exit_with_parent
from fer3d.training.recipe import default_device, is_small_model

# fold processes sharing one GPU for a small model (the 3.3x above was measured with four)
GPU_SHARED_WORKERS = 4


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def auto_workers(config: ExperimentConfig, device: torch.device | str | None, tasks: int) -> int:
    """How many processes to train ``tasks`` independent models of ``config`` with: for a small model one
    one-thread process per core on CPU, ``GPU_SHARED_WORKERS`` sharing a GPU; else one."""
    device = torch.device(device) if device is not None else default_device()
    if not is_small_model(config):
        return 1
    if device.type == "cuda":
        return max(1, min(GPU_SHARED_WORKERS, tasks))
    if device.type != "cpu":
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
