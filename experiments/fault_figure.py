"""The reliability figure: runs the fault suite (tests/faults) and counts how every case ended.

Rows are the kinds of fault (a user's folder given as output, read-only output, a full disk, fuzzed
inputs per reader, kills at seeded random moments, the database going away); columns are the cases
tried, clear one-line errors, reported skips, good results, tracebacks (goal 0), hangs (goal 0),
data-loss events (goal 0) and kills survived with nothing lost.

    source scripts/postgres.sh                       # PostgreSQL for the full set's search kills
    python -m experiments.fault_figure               # the CI sample (about 2 min on 2 idle cores)
    python -m experiments.fault_figure --full        # every case (FER3D_FAULTS_FULL=1)
    python -m experiments.fault_figure --full --json experiments/results/faults.json

A failing case fails the run (pytest's exit code is returned) but is still counted in the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

COLUMNS = [
    ("cases", None),
    ("clear errors", "clear_error"),
    ("skips", "skip"),
    ("ok", "ok"),
    ("tracebacks", "traceback"),
    ("hangs", "hang"),
    ("data loss", "data_loss"),
    ("kills survived", "kill_survived"),
]


def table(summary: dict[str, dict[str, int]]) -> str:
    """A Markdown table of the tally, one row per suite and a total row."""
    rows = []
    total: dict[str, int] = {}
    for suite, counts in sorted(summary.items()):
        # a kill point is one case; a restart point also records how the search ended
        cases = sum(v for k, v in counts.items() if k != "kill_survived") or counts.get("kill_survived", 0)
        row = {"cases": cases, **counts}
        rows.append((suite, row))
        for key, value in row.items():
            total[key] = total.get(key, 0) + value
    rows.append(("**total**", total))
    lines = ["| fault | " + " | ".join(c for c, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for suite, row in rows:
        cells = [str(row.get(key or "cases", 0)) for _, key in COLUMNS]
        lines.append(f"| {suite} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="every case (FER3D_FAULTS_FULL=1)")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, e.g. -k fuzz")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        env = {**os.environ, "FER3D_FAULTS_SUMMARY": str(summary_path), "OMP_NUM_THREADS": "1"}
        if args.full:
            env["FER3D_FAULTS_FULL"] = "1"
        root = Path(__file__).resolve().parent.parent
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "tests/faults", *args.pytest_args], cwd=root, env=env
        )
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    print(table(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"full": args.full, "pytest_exit": code, "counts": summary}, indent=1)
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
