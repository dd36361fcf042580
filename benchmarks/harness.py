"""What every benchmark shares: the environment record, timing, progress lines and the result file.

A benchmark module defines ``NAME`` and ``run(args, log) -> Measured`` and ends with
``harness.main(NAME, run)``; ``args.quick`` asks for a short pass. Its result goes to
``benchmarks/results/<NAME>-<environment tag>.json`` (for example ``training-cpu-avx2-pt2.13.json``): one
current file per benchmark and environment, replaced by the next run there; earlier figures live in git
history.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
# CPU flags that decide which kernels oneDNN runs, most capable first (``/proc/cpuinfo`` names)
CPU_FLAGS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


SKIPPED_EXIT = 3  # exit code of a benchmark that could not run here (a reason is printed)


class Skipped(Exception):
    """Raised by a benchmark that cannot run in this environment (missing input); the message says why."""


@dataclass
class Measured:
    """A benchmark's output: ``params`` (what was run), ``rows`` (one dict per measurement)."""

    params: dict[str, Any]
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


class Log:
    """Prints a progress line with the seconds since the benchmark started, flushed at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, message: str) -> None:
        print(f"[{self.name} {self.elapsed():6.1f} s] {message}", flush=True)


def cpu_info(cpuinfo: str | Path = "/proc/cpuinfo") -> tuple[str, list[str]]:
    """``(model name, the CPU_FLAGS present)`` from a Linux cpuinfo file; the platform's name elsewhere."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return platform.processor() or platform.machine(), []
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags_line = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    name = model.group(1).strip() if model else platform.processor() or platform.machine()
    return name, [flag for flag in CPU_FLAGS if flag in flags]


def git_commit(root: Path = ROOT) -> str | None:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def environment() -> dict[str, Any]:
    """What a figure depends on: commit, torch, the default device (a GPU when there is one), CPU model
    and flags, threads, load, date."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"

    model, flags = cpu_info()
    return {
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "cpu_model": model,
        "cpu_flags": flags,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def environment_tag(env: dict[str, Any]) -> str:
    """File-name tag of an environment: ``cpu-avx2-pt2.13``, ``cpu-amx-pt2.13``, ``cuda-h200-pt2.13``."""
    torch_version = ".".join(env["torch"].split("+")[0].split(".")[:2])
    if env["device"] != "cpu":
        gpu = re.sub(r"[^a-z0-9]+", "", env["device"].lower().replace("nvidia", ""))
        return f"cuda-{gpu[:12] or 'gpu'}-pt{torch_version}"
    flags = env["cpu_flags"]
    isa = (
        "amx"
        if "amx_bf16" in flags
        else "avx512"
        if "avx512f" in flags
        else "avx2"
        if "avx2" in flags
        else "cpu"
    )
    return f"cpu-{isa}-pt{torch_version}" if isa != "cpu" else f"cpu-{platform.machine()}-pt{torch_version}"


def result_path(name: str, env: dict[str, Any], root: Path = RESULTS) -> Path:
    return root / f"{name}-{environment_tag(env)}.json"


def write_result(
    name: str, measured: Measured, env: dict[str, Any], *, quick: bool, seconds: float, root: Path = RESULTS
) -> Path:
    """The benchmark's result file for this environment (replaced if there is one); returns its path."""
    path = result_path(name, env, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "quick": quick,
        "wall_seconds": round(seconds, 1),
        "environment": env,
        "params": measured.params,
        "summary": measured.summary,
        "rows": measured.rows,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    tmp.replace(path)
    return path


def rate(fn: Callable[[], Any], items: int, *, warmup: int = 1, seconds: float = 2.0) -> dict[str, float]:
    """Calls ``fn`` (``items`` items per call) ``warmup`` times, then for at least ``seconds`` and at
    least twice: ``{"per_s": items per wall second, "per_cpu_s": items per CPU second of this process}``.
    Items per CPU second hardly moves with other load on the machine; per wall second does."""
    for _ in range(warmup):
        fn()
    calls, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while calls < 2 or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"per_s": calls * items / wall, "per_cpu_s": calls * items / max(cpu, 1e-9)}


def run_module(module: str, args: list[str], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``python -m <module> <args>`` in a fresh process (so one measurement's threads, allocator and
    memory never leak into the next); its last stdout line is JSON and is returned. Its stderr passes."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(
    name: str,
    run: Callable[[argparse.Namespace, Log], Measured],
    argv: list[str] | None = None,
    *,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    results: Path = RESULTS,
    description: str | None = None,
) -> Path:
    """Command line of a benchmark or experiment: ``[--quick] [--results DIR]`` and its own options;
    logs the environment, runs ``run(args, log)``, writes the result file and returns its path."""
    parser = argparse.ArgumentParser(description=description or f"benchmark {name}")
    parser.add_argument("--quick", action="store_true", help="a short pass (make bench-quick)")
    parser.add_argument("--results", type=Path, default=results, help="folder of the result file")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    log = Log(name)
    env = environment()
    log(f"start ({environment_tag(env)}, {env['cpu_model']}, load {env['load_average_1min']})")
    try:
        measured = run(args, log)
    except Skipped as skip:
        log(f"skipped: {skip}")
        raise SystemExit(SKIPPED_EXIT) from None
    env["load_average_1min_at_end"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    path = write_result(name, measured, env, quick=args.quick, seconds=log.elapsed(), root=args.results)
    log(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path
