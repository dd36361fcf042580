"""Run every benchmark: ``python -m benchmarks.run_all`` (or ``make bench``).

Each benchmark prints its table and writes JSON under ``benchmarks/results/``. They run one after the
other, each in its own process, so one's memory and thread settings never leak into another's numbers.
``--quick`` passes a shorter pass to the training benchmark (no 10-fold runs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
# bench_search is run on its own (``python -m benchmarks.bench_search``): it drives a whole search.
BENCHMARKS = ("bench_training", "bench_prepare", "bench_predict")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short training benchmark, no 10-fold runs")
    args = parser.parse_args(argv)
    failed = []
    for name in BENCHMARKS:
        if not (HERE / f"{name}.py").exists():
            print(f"== {name}: not present, skipped")
            continue
        print(f"== {name}", flush=True)
        extra = ["--quick"] if args.quick and name == "bench_training" else []
        proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *extra], cwd=HERE.parent)
        if proc.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
