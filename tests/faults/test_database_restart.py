"""The database goes away: a PostgreSQL server of its own is stopped in the middle of a 2-worker search
and started again. The search either carries on (the workers reconnect) or ends with one clear line; the
same command then completes the study with the asked number of trials and none running or duplicated.
Slow (a server of its own): runs with FER3D_FAULTS_FULL=1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from faults.helpers import FER3D, last_line, run_cli, tiny_args, write_store

FULL = os.environ.get("FER3D_FAULTS_FULL") == "1"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not FULL, reason="full fault set: FER3D_FAULTS_FULL=1")]
POINTS = int(os.environ.get("FER3D_FAULTS_POINTS", 5))


class Server:
    """A throw-away PostgreSQL server (as the `postgres` user when run as root, as initdb requires)."""

    def __init__(self, root: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            pytest.fail("no PostgreSQL server binaries (scripts/postgres.sh installs Debian's postgresql)")
        self.bin = bins[-1].parent
        self.dir = root
        self.user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        shutil.chown(root, self.user) if os.geteuid() == 0 else None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(root / "data"), "-U", self.user, "--auth=trust", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "faults")
        self.url = f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/faults"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.prefix, str(self.bin / tool), *args], capture_output=True, text=True)
        assert done.returncode == 0, f"{tool}: {done.stderr}"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "-o", opts, "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")


@pytest.fixture
def server():
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="fer3d-faults-pg-"))
    found = Server(root)
    yield found
    stop = [*found.prefix, str(found.bin / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"]
    subprocess.run(stop, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def test_search_survives_the_database_going_away(server, tmp_path, tally):
    import optuna
    from optuna.trial import TrialState

    store = write_store(tmp_path / "cache", subjects=4)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(7)
    for point in range(POINTS):
        study = f"restart{point}"
        args = [
            "search", store.path, "--study", study, "--storage", server.url, "-o", tmp_path / study,
            "--n-trials", "4", "--jobs", "2", "--protocol", "kfold", "--k", "2", "--heartbeat", "1",
            "--grace", "3", "--no-progress", *tiny_args(),
        ]  # fmt: skip
        with open(tmp_path / f"{study}.log", "w") as log:
            proc = subprocess.Popen([*FER3D, *map(str, args)], stdout=log, stderr=log, env=env)
            time.sleep(float(rng.uniform(4.0, 15.0)))
            server.stop()
            time.sleep(float(rng.uniform(1.0, 5.0)))
            server.start()
            code = proc.wait(timeout=900)
        err = (tmp_path / f"{study}.log").read_text(errors="replace")
        clear = code == 0 or (code == 2 and last_line(err).startswith("fer3d: error: "))
        tally.add("database restart", "traceback" if "Traceback" in err or not clear else
                  "ok" if code == 0 else "clear_error")  # fmt: skip
        assert "Traceback" not in err and clear, err[-3000:]
        done = run_cli(*args, env=env, timeout=900)  # the same command completes the study
        assert done.returncode == 0, done.stderr[-3000:]
        trials = optuna.load_study(study_name=study, storage=server.url).get_trials(deepcopy=False)
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        assert len(finished) == 4, [(t.number, t.state.name) for t in trials]
        assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
        tally.add("database restart", "kill_survived")
