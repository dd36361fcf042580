"""Worker processes: spawned with their own thread count, ending with the process that started them,
and reporting progress to it.

Fold workers (``cross_validate(workers=N)``) and search workers (``fer3d search --jobs N``) both run in
:func:`worker_pool`. Workers are spawned, not forked: a forked child can hang in its first OpenMP call
when the parent has already used OpenMP. Each worker watches its parent and exits once it is gone, so a
``kill`` or crash of the parent does not leave workers training on and holding every core; finished
folds and trials are saved, so the same command resumes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from fer3d.runtime.process import configure_process

# (worker pid, message) as the parent's ``on_progress`` receives it
ProgressCallback = Callable[[int, Any], None]

_STOP = "fer3d-stop-listening"
_channel: Any = None  # in a worker process: the queue to its parent's listener, if it listens


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Torch threads of each of ``workers`` processes sharing this machine's cores."""
    return max(1, available_cores() // max(1, workers))


def exit_with_parent(parent_pid: int | None, interval_s: float = 1.0) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent (the parent has ended)."""
    if parent_pid is None:
        return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)  # orphaned: nothing will collect this worker's results

    threading.Thread(target=watch, name="fer3d-parent-watch", daemon=True).start()


@contextlib.contextmanager
def worker_pool(
    workers: int, *, on_progress: ProgressCallback | None = None
) -> Iterator[ProcessPoolExecutor]:
    """``workers`` spawned processes with ``cores // workers`` torch threads each, configured by
    :func:`~fer3d.runtime.configure_process`, that exit when this process does.

    With ``on_progress``, what a task calls :func:`report_progress` with reaches
    ``on_progress(worker_pid, message)``, called in a thread of this process. On leaving the block the
    pool waits for running tasks (pending ones cancelled by the caller are dropped).
    """
    context = multiprocessing.get_context("spawn")
    channel = context.Queue() if on_progress is not None else None
    listener = None
    if channel is not None and on_progress is not None:
        listener = threading.Thread(
            target=_listen, args=(channel, on_progress), name="fer3d-worker-progress", daemon=True
        )
        listener.start()
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(threads_per_worker(workers), os.getpid(), channel),
    )
    try:
        with pool:
            yield pool
    finally:
        if channel is not None and listener is not None:
            channel.put((os.getpid(), _STOP))
            listener.join(timeout=10)
            channel.close()


def report_progress(message: Any) -> bool:
    """In a task of a :func:`worker_pool` that listens: send ``message`` (picklable) to the parent.
    Elsewhere do nothing. Returns whether it was sent."""
    if _channel is None:
        return False
    _channel.put((os.getpid(), message))
    return True


def _start_worker(threads: int, parent_pid: int, channel: Any) -> None:
    global _channel
    exit_with_parent(parent_pid)
    configure_process(threads=threads)
    _channel = channel


def _listen(channel: Any, on_progress: ProgressCallback) -> None:
    failed = False
    while True:
        pid, message = channel.get()
        if message == _STOP:
            return
        try:
            on_progress(pid, message)
        except Exception as err:  # a display problem must not stop the work it displays
            if not failed:
                warnings.warn(f"progress display failed: {err!r}", RuntimeWarning, stacklevel=1)
                failed = True
