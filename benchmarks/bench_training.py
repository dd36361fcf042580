"""Training and inference speed: clips/s of the library's recipe against plain eager fp32.

Each row trains the CK+ preset's model through ``fit`` on random clips (a warm-up, then two timed
epochs) and times ``predict_proba``, in a fresh process per row so that threads, allocator and memory
are measured per configuration. Models: the ``cpu`` profile's (40 px, width 0.25, batch 16, one thread,
as each fold worker trains it) and, in a full run, the paper's C3D-BN (112 px, width 1, two threads).
Rows: plain eager fp32; the recipe in the other precision where the device has native bf16; the recipe
eager where the library compiles; the library's choice (compiled as a training of hundreds of steps
would be). A full run repeats the rows in 3 interleaved rounds (median kept), compares one two-thread
process with two one-thread processes training at once, and measures the bf16 / fp32 matmul rates.

    python -m benchmarks.bench_training [--quick]    # --quick: the cpu-profile rows only, one round
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import harness

NAME = "training"
NUM_CLASSES = 7
MODELS = {
    # one thread, as each fold worker trains it (``--workers auto``: one one-thread process per core)
    "cpu_profile": {"size": 40, "width": 0.25, "batch": 16, "clips": 112, "epochs": 2, "threads": 1},
    "c3d_112": {"size": 112, "width": 1.0, "batch": 16, "clips": 32, "epochs": 2, "threads": 2},
}


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One row, in this process: ``fit`` clips/s (after a warm-up epoch) and ``predict_proba`` clips/s."""
    import numpy as np
    import torch

    from fer3d.models import build_model
    from fer3d.presets import get_config
    from fer3d.runtime import configure_process
    from fer3d.training.recipe import choose_recipe, default_device, plain_recipe
    from fer3d.training.trainer import fit, predict_proba

    # as the CLI sets up a process; the plain baseline keeps glibc's allocator defaults
    configure_process(threads=spec["threads"], tune_memory=spec["recipe"] != "plain")
    overrides = {"input.size": spec["size"], "model.width": spec["width"], "train.batch_size": spec["batch"]}
    # every clip once an epoch (no class oversampling), so an epoch is whole batches
    overrides |= {
        "train.epochs": spec["epochs"],
        "train.augment.ramp_epochs": 0,
        "train.augment.balance": False,
    }
    overrides |= {"train.precision": spec["precision"], "train.compile": spec["compile"]}
    config = get_config("ckplus-paper", "cpu", overrides)
    device = default_device()
    if spec["recipe"] == "plain":
        recipe = plain_recipe(device)
    else:
        recipe = choose_recipe(config, device)
        if recipe.compile_from_steps is not None:  # compiled as a training of hundreds of steps would be
            recipe = dataclasses.replace(recipe, compile_from_steps=0)
    generator = torch.Generator().manual_seed(0)
    shape = (spec["clips"], 1, 10, spec["size"], spec["size"])
    clips = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    labels = np.arange(spec["clips"]) % NUM_CLASSES
    torch.manual_seed(0)
    model = build_model(config, NUM_CLASSES, 1)
    warm = spec["batch"] * 2  # compiling, heap growth
    fit(
        model,
        clips[:warm],
        labels[:warm],
        config.with_overrides({"train.epochs": 1}),
        recipe,
        num_classes=NUM_CLASSES,
        seed=0,
    )
    cpu_start = time.process_time()
    trained = fit(model, clips, labels, config, recipe, num_classes=NUM_CLASSES, seed=1)
    cpu = time.process_time() - cpu_start
    infer = harness.rate(lambda: predict_proba(model, clips, config, recipe), len(clips), seconds=1.0)
    return {
        "model": spec["model"],
        "recipe": recipe.name if spec["recipe"] != "plain" else "plain eager fp32",
        "threads": spec["threads"],
        "train_clips_s": trained.clips_seen / trained.seconds,
        # the whole fit call, batch-norm recalibration included: hardly moved by other load
        "train_clips_per_cpu_s": trained.clips_seen / max(cpu, 1e-9),
        "data_fraction": trained.data_seconds / trained.seconds,
        "infer_clips_s": infer["per_s"],
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float | None:
    """This process's peak resident memory (``VmHWM``: ``ru_maxrss`` carries the parent's over ``exec``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _worker_args(spec: dict[str, Any]) -> list[str]:
    return ["--worker", json.dumps(spec)]


def _row(spec: dict[str, Any]) -> dict[str, Any]:
    env = {"OMP_NUM_THREADS": str(spec["threads"])}
    return harness.run_module("benchmarks.bench_training", _worker_args(spec), env=env)


def _kinds(model: str) -> list[tuple[str, str, str]]:
    """(recipe, precision, compile) rows of ``model``: plain first; the recipe in the other precision
    where the device runs bf16 natively; the recipe eager where the library would compile; the
    library's own choice last."""
    from fer3d.presets import get_config
    from fer3d.training.recipe import choose_recipe, cpu_has_native_bf16, default_device

    spec = MODELS[model]
    config = get_config("ckplus-paper", "cpu", {"input.size": spec["size"], "model.width": spec["width"]})
    chosen = choose_recipe(config, default_device())
    kinds = [("plain", "fp32", "off")]
    if default_device().type == "cuda" or cpu_has_native_bf16():
        kinds.append(("recipe", "fp32" if chosen.autocast_dtype is not None else "bf16", "auto"))
    if chosen.compile_from_steps is not None:
        kinds.append(("recipe", "auto", "off"))
    return [*kinds, ("recipe", "auto", "auto")]


def matmul_gflops(dtype_name: str, seconds: float = 1.0) -> float:
    """Achieved GFLOP/s of a square matmul on the default device: the practical peak a convolution can
    reach (a GPU needs a larger product than a CPU to reach its own)."""
    import torch

    from fer3d.training.recipe import default_device

    device = default_device()
    n = 8192 if device.type == "cuda" else 1024
    dtype = getattr(torch, dtype_name)
    a, b = (torch.rand(n, n, device=device).to(dtype) for _ in range(2))

    def matmul() -> None:
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return harness.rate(matmul, 1, seconds=seconds)["per_s"] * 2 * n**3 / 1e9


def _workers_comparison(spec: dict[str, Any]) -> dict[str, float]:
    """Total training clips/s: one two-thread process, then two one-thread processes at once."""
    one = _row({**spec, "threads": 2})["train_clips_s"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_training", *_worker_args({**spec, "threads": 1})],
            cwd=harness.ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for _ in range(2)
    ]
    two = [json.loads(p.communicate()[0].strip().splitlines()[-1])["train_clips_s"] for p in procs]
    return {"one_process_2_threads_clips_s": one, "two_processes_1_thread_clips_s": sum(two)}


def run(args, log: harness.Log) -> harness.Measured:
    quick = args.quick
    models = ["cpu_profile"] if quick else list(MODELS)
    rounds = 1 if quick else 3
    specs = [
        {"model": m, **MODELS[m], "recipe": r, "precision": p, "compile": c}
        for m in models
        for r, p, c in _kinds(m)
    ]
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(specs))}
    for round_ in range(rounds):
        for i, spec in enumerate(specs):
            row = _row(spec)
            runs[i].append(row)
            log(
                f"round {round_ + 1}/{rounds} {row['model']:11} {row['recipe']:38} "
                f"train {row['train_clips_s']:7.2f} clips/s  infer {row['infer_clips_s']:7.1f} clips/s"
            )
    rows = []
    for i in runs:
        median = sorted(runs[i], key=lambda r: r["train_clips_s"])[len(runs[i]) // 2]
        rows.append({**median, "train_clips_s_rounds": [round(r["train_clips_s"], 2) for r in runs[i]]})
    summary: dict[str, Any] = {}
    for model in models:
        own = [r for r in rows if r["model"] == model]
        summary[f"{model}_recipe_over_plain"] = own[-1]["train_clips_s"] / own[0]["train_clips_s"]
        log(f"{model}: the recipe trains {summary[f'{model}_recipe_over_plain']:.2f}x plain eager fp32")
    summary["matmul_gflops"] = {
        d: matmul_gflops(d) for d in (("float32",) if quick else ("float32", "bfloat16"))
    }
    log("matmul peaks (GFLOP/s): " + ", ".join(f"{d} {g:.0f}" for d, g in summary["matmul_gflops"].items()))
    if not quick and (os.cpu_count() or 1) >= 2:
        spec = {"model": "cpu_profile", **MODELS["cpu_profile"], "recipe": "recipe", "precision": "auto"}
        spec["compile"] = "auto"
        summary["workers"] = _workers_comparison(spec)
        log(f"workers at the cpu profile: {summary['workers']}")
    params = {"preset": "ckplus-paper", "models": {m: MODELS[m] for m in models}, "rounds": rounds}
    return harness.Measured(params, rows, summary)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(measure(json.loads(sys.argv[2]))))
    else:
        harness.main(NAME, run)
