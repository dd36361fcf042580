"""Workers end when the process that started them ends, even when it is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fer3d.parent_watch import PARENT_PID_ENV

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX parent/child semantics")

# A parent that starts a worker, prints the worker's pid, then waits to be killed.
POOL_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from fer3d.evaluation.fold_workers import worker_pool
    pool = worker_pool(1)
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 600)
    time.sleep(600)
    """
)
# A parent that starts a child (argv[1]), naming itself in the environment when argv[2] is "named" as
# `fer3d search --jobs N` does for its workers; prints the child's pid, then waits to be killed.
PLAIN_PARENT = textwrap.dedent(
    f"""
    import os, subprocess, sys, time
    env = dict(os.environ)
    if sys.argv[2] == "named":
        env["{PARENT_PID_ENV}"] = str(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env=env)
    print(child.pid, flush=True)
    time.sleep(600)
    """
)
WATCHING_CHILD = (
    "import time; from fer3d.parent_watch import exit_with_parent, parent_from_env\n"
    "exit_with_parent(parent_from_env(), 0.1); time.sleep(600)"
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
    env = {k: v for k, v in os.environ.items() if k != PARENT_PID_ENV}
    naming = "named" if watched else "unnamed"
    parent = subprocess.Popen(
        [sys.executable, "-c", PLAIN_PARENT, WATCHING_CHILD, naming],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    child_pid = int(parent.stdout.readline())
    time.sleep(0.5)  # the child is running its watch
    # the child checks every 0.1 s: 5 s is ample for it to notice
    assert _kill_parent_and_check(parent, child_pid, timeout_s=5) is watched
