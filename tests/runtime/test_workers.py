"""Worker processes: they end when the process that started them ends, even when it is killed outright,
and what they report reaches it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fer3d.runtime.workers import report_progress, worker_pool

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX parent/child semantics")

# A parent that starts a worker, prints the worker's pid, then waits to be killed.
POOL_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from fer3d.runtime.workers import worker_pool
    with worker_pool(1) as pool:
        print(pool.submit(os.getpid).result(), flush=True)
        pool.submit(time.sleep, 600)
        time.sleep(600)
    """
)
# A parent that starts a child (argv[1]), giving it its own pid when argv[2] is "named", else none;
# prints the child's pid, then waits to be killed.
PLAIN_PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    named = str(os.getpid()) if sys.argv[2] == "named" else ""
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], named])
    print(child.pid, flush=True)
    time.sleep(600)
    """
)
WATCHING_CHILD = (
    "import sys, time; from fer3d.runtime.workers import exit_with_parent\n"
    "exit_with_parent(int(sys.argv[1]) if sys.argv[1] else None, 0.1); time.sleep(600)"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _kill_parent_and_check(parent: subprocess.Popen, child_pid: int, timeout_s: float = 15) -> bool:
    try:
        assert _alive(child_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        return _wait_gone(child_pid, timeout_s)
    finally:
        if _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)


def test_fold_worker_exits_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", POOL_PARENT], stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    assert _kill_parent_and_check(parent, worker_pid)


@pytest.mark.parametrize("watched", [True, False])
def test_a_watching_child_exits_with_its_parent_and_only_then(watched):
    naming = "named" if watched else "unnamed"
    parent = subprocess.Popen(
        [sys.executable, "-c", PLAIN_PARENT, WATCHING_CHILD, naming], stdout=subprocess.PIPE, text=True
    )
    child_pid = int(parent.stdout.readline())
    time.sleep(0.5)  # the child is running its watch
    # the child checks every 0.1 s: 5 s is ample for it to notice
    assert _kill_parent_and_check(parent, child_pid, timeout_s=5) is watched


def _report_three(task: int) -> tuple[int, int]:
    import torch

    for epoch in range(3):
        assert report_progress({"task": task, "epoch": epoch})
    return os.getpid(), torch.get_num_threads()


def test_the_parent_receives_what_workers_report(monkeypatch):
    from fer3d.runtime import workers

    monkeypatch.setattr(workers, "available_cores", lambda: 4)
    assert not report_progress("nobody listens")  # outside a worker: nothing sent
    received: list[tuple[int, dict]] = []
    with worker_pool(2, on_progress=lambda pid, message: received.append((pid, message))) as pool:
        done = [f.result() for f in [pool.submit(_report_three, task) for task in range(4)]]
    assert {threads for _, threads in done} == {2}  # each worker has its share of the cores
    # every message arrived, tagged with the pid of the worker that sent it, in order per task
    assert sorted((m["task"], m["epoch"]) for _, m in received) == [
        (t, e) for t in range(4) for e in range(3)
    ]
    for task, (pid, _) in enumerate(done):
        assert [m["epoch"] for p, m in received if m["task"] == task] == [0, 1, 2]
        assert {p for p, m in received if m["task"] == task} == {pid}
