"""The process-wide settings a fer3d command runs with, applied in one place.

Library functions (``fit``, ``predict_proba``, ``cross_validate``) leave process-wide state alone; the
CLI calls :func:`configure_process` once at start-up, and so does every worker process fer3d starts.
A library user who wants the same training speed on CPU calls it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fer3d.runtime.allocator import tune_allocator


@dataclass(frozen=True)
class ProcessSettings:
    """What :func:`configure_process` put in effect."""

    threads: int | None  # torch intra-op threads set; None: left as they were
    allocator_tuned: bool  # glibc keeps freed activation memory mapped (``runtime.allocator``)


def configure_process(*, threads: int | None = None, tune_memory: bool = True) -> ProcessSettings:
    """Set this process's torch and OpenMP thread count (``None``: leave them) and keep glibc from
    unmapping freed activation memory after every training step (``tune_memory``).

    Torch is imported only to set threads, so a command that never trains starts without it.
    """
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        os.environ["OMP_NUM_THREADS"] = str(threads)  # for libraries that read it when they start
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    tuned = tune_allocator() if tune_memory else False
    return ProcessSettings(threads=threads, allocator_tuned=tuned)
