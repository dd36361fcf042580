"""Run every benchmark: ``python -m benchmarks.run_all [--quick] [--list] [NAME ...]`` (``make bench``).

Every ``benchmarks/bench_*.py`` module is a benchmark, found by its file name, so a new one cannot be
left out. They run one after the other, each in its own process, so one's threads and memory never
leak into another's numbers; each prints a line per measurement as it goes and writes its result file
(``benchmarks/results/<name>-<environment>.json``). ``--quick`` runs every one's short pass
(``make bench-quick``: within 5 minutes on 2 idle cores). A benchmark that cannot run here (a missing
input) is reported as skipped, with its reason; a failure does not stop the others.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIPPED_EXIT = 3  # benchmarks.harness.SKIPPED_EXIT (not imported: listing must not import torch)


def benchmark_modules(folder: Path = HERE) -> list[str]:
    """Module names of every benchmark in ``folder``, in name order: ``bench_data_path``, ..."""
    return sorted(path.stem for path in folder.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these benchmarks (e.g. bench_training)")
    parser.add_argument("--quick", action="store_true", help="each benchmark's short pass")
    parser.add_argument("--list", action="store_true", help="print the benchmarks and exit")
    args = parser.parse_args(argv)
    modules = benchmark_modules()
    unknown = sorted(set(args.names) - set(modules))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(modules)}")
    modules = [m for m in modules if m in args.names] if args.names else modules
    if args.list:
        print("\n".join(modules))
        return 0
    start = time.perf_counter()
    outcome: dict[str, str] = {}
    for i, name in enumerate(modules, 1):
        print(f"== [{i}/{len(modules)}] {name} (at {time.perf_counter() - start:.0f} s)", flush=True)
        extra = ["--quick"] if args.quick else []
        code = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", *extra], cwd=HERE.parent
        ).returncode
        outcome[name] = {0: "ok", SKIPPED_EXIT: "skipped"}.get(code, f"failed (exit code {code})")
    print(f"== done in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{name} {result}" for name, result in outcome.items()), flush=True)  # fmt: skip
    return 1 if any(result.startswith("failed") for result in outcome.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
