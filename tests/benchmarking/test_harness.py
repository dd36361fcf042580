"""The benchmark tool: result files carry their environment, and the runner finds every benchmark."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks import harness, run_all

ROOT = Path(__file__).resolve().parents[2]
ENV_FIELDS = {"git_commit", "torch", "device", "cpu_model", "cpu_flags", "threads", "date", "cpu_count"}


def test_cpu_info_reads_model_and_the_flags_that_pick_kernels(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Some Xeon\nflags\t\t: fpu avx2 avx512f amx_bf16 sse\n")
    assert harness.cpu_info(cpuinfo) == ("Some Xeon", ["amx_bf16", "avx512f", "avx2"])


@pytest.mark.parametrize(
    ("device", "flags", "tag"),
    [
        ("cpu", ["amx_bf16", "avx512f", "avx2"], "cpu-amx-pt2.13"),
        ("cpu", ["avx512_bf16", "avx512f", "avx2"], "cpu-avx512-pt2.13"),
        ("cpu", ["avx2"], "cpu-avx2-pt2.13"),
        ("NVIDIA H200", [], "cuda-h200-pt2.13"),
    ],
)
def test_environment_tag_names_device_and_instruction_set(device, flags, tag):
    assert harness.environment_tag({"torch": "2.13.0+cpu", "device": device, "cpu_flags": flags}) == tag


def test_main_writes_one_result_file_with_the_environment(tmp_path):
    calls = []

    def run(args, log):
        calls.append(args.quick)
        log("measuring")
        return harness.Measured({"size": 40}, [{"clips_s": 1.5}], {"ratio": 2.0})

    path = harness.main("toy", run, ["--quick", "--results", str(tmp_path)])
    again = harness.main("toy", run, ["--quick", "--results", str(tmp_path)])
    assert calls == [True, True]
    assert again == path and list(tmp_path.iterdir()) == [path]  # replaced, not a second snapshot
    env = harness.environment()
    assert path.name == f"toy-{harness.environment_tag(env)}.json"
    result = json.loads(path.read_text())
    assert result["environment"].keys() >= ENV_FIELDS
    assert result["environment"]["torch"] == env["torch"] and result["environment"]["threads"] >= 1
    assert result["quick"] is True and result["benchmark"] == "toy"
    assert result["params"] == {"size": 40} and result["rows"] == [{"clips_s": 1.5}]
    assert result["summary"] == {"ratio": 2.0}


def test_a_benchmark_that_cannot_run_exits_with_the_skip_code(tmp_path, capsys):
    def run(args, log):
        raise harness.Skipped("no video here")

    with pytest.raises(SystemExit) as exit_info:
        harness.main("toy", run, ["--results", str(tmp_path)])
    assert exit_info.value.code == run_all.SKIPPED_EXIT == harness.SKIPPED_EXIT
    assert "skipped: no video here" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_rate_counts_items_per_second():
    calls = []
    measured = harness.rate(lambda: calls.append(1), items=4, warmup=2, seconds=0.01)
    assert len(calls) >= 4 and measured["per_s"] > 0 and measured["per_cpu_s"] > 0


def test_run_all_lists_every_benchmark_module():
    files = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.split() == files
    assert len(files) >= 5


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("bench_*.py")), ids=lambda p: p.stem)
def test_each_benchmark_is_a_harness_module_with_a_quick_pass(path):
    """NAME, run(args, log) and harness.main: so run_all's --quick reaches it and it writes its result."""
    tree = _module(path)
    names = {
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if hasattr(t, "id")
    }
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "NAME" in names and "run" in functions
    assert "harness.main(NAME, run" in path.read_text()
    assert f"python -m benchmarks.{path.stem}" in (ast.get_docstring(tree) or "")


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((ROOT / "experiments").glob("*.py")) if p.stem not in ("__init__", "ckplus_sized")],
    ids=lambda p: p.stem,
)
def test_each_experiment_says_what_it_measures_and_how_to_run_it(path):
    docstring = ast.get_docstring(_module(path)) or ""
    assert docstring.splitlines()[0]
    assert f"python -m experiments.{path.stem}" in docstring
