"""Training speed: clips/s, FLOPs, fraction of the matmul peak, plain vs recipe, workers, data time, folds.

Every timing that is compared with another is taken in the same run, interleaved (A B A B ...), each
in a fresh subprocess so process-wide state (the glibc allocator fix, thread count, peak memory) is
measured per configuration. Run ``python -m benchmarks.bench_training`` (``--quick`` for a short pass).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fer3d.config import ExperimentConfig
from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training.inputs import model_input, to_float
from fer3d.training.optim import make_optimizer
from fer3d.training.recipe import Recipe, choose_recipe, cpu_has_amx_bf16, plain_recipe, training_forward

RESULTS = Path(__file__).parent / "results"
NUM_CLASSES = 7


def _config(
    size: int, width: float, kt: int = 3, batch: int = 16, precision: str = "auto"
) -> ExperimentConfig:
    return get_config("ckplus-paper").with_overrides(
        {
            "input.size": size,
            "model.width": width,
            "model.temporal_kernel": kt,
            "train.batch_size": batch,
            "train.precision": precision,
        }
    )


# what each kind changes from the configuration's own (auto) recipe
RECIPE_KINDS = {
    "recipe": {},
    "recipe-fp32": {"train.precision": "fp32"},
    "recipe-bf16": {"train.precision": "bf16"},
    "recipe-eager": {"train.compile": "off"},
}


def _recipe(kind: str, config: ExperimentConfig, threads: int | None, device: str = "cpu") -> Recipe:
    """``plain``, or the library's recipe (``recipe``) with the change ``RECIPE_KINDS`` names."""
    if kind == "plain":
        return plain_recipe(device)
    return choose_recipe(config.with_overrides(RECIPE_KINDS[kind]), device, threads=threads)


def _synchronized(fn, device: torch.device):
    """``fn`` followed by a device sync, so wall-clock timing covers the queued GPU work."""
    if device.type != "cuda":
        return fn

    def run() -> None:
        fn()
        torch.cuda.synchronize(device)

    return run


def _worker_setup(spec: dict[str, Any]) -> tuple[torch.device, ExperimentConfig, Recipe, nn.Module]:
    """The spec's thread count, device, config, recipe (applied, but for the plain baseline) and model."""
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    device = torch.device(spec.get("device", "cpu"))
    config = _config(spec["size"], spec["width"], spec.get("kt", 3), spec["batch"])
    recipe = _recipe(spec["recipe"], config, spec.get("threads"), device.type)
    if spec["recipe"] != "plain":  # the plain baseline keeps glibc's defaults
        recipe.apply()
    torch.manual_seed(0)
    model = build_model(config, NUM_CLASSES, 1).to(device)
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    return device, config, recipe, model


def _training_step(
    spec: dict[str, Any], device: torch.device, config: ExperimentConfig, recipe: Recipe, model: nn.Module
):
    """``(step, clips)``: ``step(forward)`` runs one forward + backward + optimiser step of ``model`` through
    ``forward`` (the model or its compiled form) on the spec's random uint8 ``clips``, as ``fit`` does."""
    optimizer = make_optimizer(model, config.train, fused=recipe.fused_optimizer)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    shape = (spec["batch"], 1, 10, spec["size"], spec["size"])
    clips = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8).to(device)
    labels = torch.randint(0, NUM_CLASSES, (spec["batch"],), generator=gen).to(device)

    def step(forward: nn.Module) -> None:
        batch = model_input(to_float(clips), False, recipe.channels_last)
        with recipe.autocast():
            loss = loss_fn(forward(batch), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, clips


def _step_gflop(spec: dict[str, Any]) -> float:
    """Nominal GFLOP of one training step (a batch) of the spec's model."""
    return flops_per_clip(spec["size"], spec["width"], spec.get("kt", 3))["train_gflop"] * spec["batch"]


def measure_steps(spec: dict[str, Any]) -> dict[str, Any]:
    """Forward + backward + optimiser steps on random clips, in this process; returns clips/s and memory."""
    device, config, recipe, model = _worker_setup(spec)
    step, clips = _training_step(spec, device, config, recipe, model)
    out: dict[str, Any] = {**spec, "recipe_name": recipe.name if spec["recipe"] != "plain" else "plain-fp32"}
    with recipe.guard(model):  # for the whole measurement, as ``fit`` applies it
        # compiled in the first warm-up step where the recipe would compile a training
        forward = training_forward(model, recipe, steps=10**6)
        cpu: dict[str, float] = {}
        out["train_clips_s"] = _rate(
            _synchronized(lambda: step(forward), device),
            spec["batch"],
            spec["warmup"],
            spec["seconds"],
            cpu,
            settle=spec.get("settle", 0),
            start_at=spec.get("start_at"),
        )
        out["train_clips_per_cpu_s"] = cpu["rate"]
        out["warmup_steps"], out["faults_per_step"] = cpu["warmup_steps"], round(cpu["faults_per_step"])
        model.eval()

        @torch.no_grad()
        def infer() -> None:  # eager, as ``predict_proba``
            batch = to_float(clips)
            if recipe.channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last_3d)
            with recipe.autocast():
                model(batch)

        out["infer_clips_s"] = _rate(_synchronized(infer, device), spec["batch"], 1, spec["seconds"] / 2)
    out["peak_rss_mb"] = peak_rss_mb()
    if device.type == "cuda":
        out["peak_device_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        out["device_name"] = torch.cuda.get_device_name(device)
    return out


def conv_passes(
    model: nn.Module, recipe: Recipe, batch: int, size: int, device: torch.device
) -> list[tuple[Any, float, list[int]]]:
    """Each Conv3d of ``model`` alone at the input shape a training step gives it: ``(pass, GFLOP,
    shape)``, where ``pass`` runs its forward + backward under the recipe (the conv guard included)."""
    from torch.utils.flop_counter import FlopCounterMode

    shapes: list[tuple[nn.Conv3d, torch.Size]] = []
    hooks = [
        m.register_forward_pre_hook(lambda m, args: shapes.append((m, args[0].shape)))
        for m in model.modules()
        if isinstance(m, nn.Conv3d)
    ]
    with torch.no_grad(), recipe.guard(model), recipe.autocast():
        model(
            torch.rand(batch, 1, 10, size, size, device=device).contiguous(
                memory_format=torch.channels_last_3d
            )
        )
    for hook in hooks:
        hook.remove()
    passes = []
    for i, (conv, shape) in enumerate(shapes):
        x = torch.randn(shape, device=device).contiguous(memory_format=torch.channels_last_3d)
        x.requires_grad_(i > 0)  # the first conv's input is data: no input gradient, as in training

        def conv_pass(conv=conv, x=x) -> None:
            with recipe.guard(conv), recipe.autocast():
                out = conv(x)
            out.backward(torch.ones_like(out))

        with FlopCounterMode(display=False) as counter:
            conv_pass()
        passes.append((_synchronized(conv_pass, device), counter.get_total_flops() / 1e9, list(shape)))
    return passes


def conv_ceiling(spec: dict[str, Any]) -> dict[str, Any]:
    """Each Conv3d of the model alone, forward + backward, at the shapes a training step gives it.

    The step cannot beat the time its convolutions take on their own, so ``step GFLOP / sum of conv
    times`` is the highest rate the step could execute with every other op free: the ceiling that
    oneDNN's (or cuDNN's) convolution kernels, not the recipe, set.
    """
    device, _, recipe, model = _worker_setup(spec)
    layers = []
    for conv_pass, gflop, shape in conv_passes(model, recipe, spec["batch"], spec["size"], device):
        rate = _rate(conv_pass, 1, 2, spec["seconds"])  # passes per second
        layers.append({"input_shape": shape, "gflop": gflop, "seconds": 1 / rate, "gflops": gflop * rate})
    conv_seconds = sum(layer["seconds"] for layer in layers)
    conv_gflop = sum(layer["gflop"] for layer in layers)
    return {
        **spec,
        "recipe_name": recipe.name,
        "layers": layers,
        "conv_seconds_per_step": conv_seconds,
        "conv_gflops": conv_gflop / conv_seconds,
        # the step's own GFLOP (convs + the rest) over the conv time alone: its rate if nothing else cost
        "step_ceiling_gflops": _step_gflop(spec) / conv_seconds,
    }


def interleaved_rounds(
    arms: dict[str, Any], warmup: int, rounds: int
) -> tuple[dict[str, int], dict[str, list[float]]]:
    """Each arm warmed up (compiling, heap growth), sized to about a second of repetitions, then timed in
    turn, round after round: ``(repetitions per arm, seconds per call of each arm in each round)``."""
    reps = {}
    for name, arm in arms.items():
        for _ in range(warmup):
            arm()
        start = time.perf_counter()
        arm()
        reps[name] = max(1, round(1.0 / (time.perf_counter() - start)))
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(rounds):
        for name, arm in arms.items():
            start = time.perf_counter()
            for _ in range(reps[name]):
                arm()
            seconds[name].append((time.perf_counter() - start) / reps[name])
    return reps, seconds


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of per-round ratios."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def paired_rounds(spec: dict[str, Any]) -> dict[str, Any]:
    """The eager step, the compiled step, the convs alone and a bf16 matmul, in turn, round after round,
    in one process.

    Separate runs of each cannot be compared on a machine whose speed drifts from minute to minute (the
    AMX machine: bf16 matmul 0.6-2.0 TFLOP/s, 112 px training 3.7-8.3 clips/s between runs). Within a
    round the four measurements are seconds apart, so their ratios cancel the drift; the medians over
    rounds are the figures to quote.
    """
    device, config, recipe, model = _worker_setup(spec)
    step, _ = _training_step(spec, device, config, recipe, model)
    passes = conv_passes(model, recipe, spec["batch"], spec["size"], device)
    n = _matmul_side(device.type)
    a, b = (torch.rand(n, n, device=device).to(torch.bfloat16) for _ in range(2))

    with recipe.guard(model):
        arms = {
            "eager": _synchronized(lambda: step(model), device),
            "convs": lambda: [conv_pass() for conv_pass, _, _ in passes],
            "matmul": _synchronized(lambda: a @ b, device),
        }
        if spec.get("compile", True):
            # compiled as ``fit`` compiles, whatever the recipe's own threshold
            compiled = training_forward(model, dataclasses.replace(recipe, compile_from_steps=0), steps=1)
            arms["compiled"] = _synchronized(lambda: step(compiled), device)
        reps, seconds = interleaved_rounds(arms, spec["warmup"], spec["rounds"])
    step_gflop = _step_gflop(spec)
    gflops = {
        "eager": [step_gflop / t for t in seconds["eager"]],
        "conv_ceiling": [step_gflop / t for t in seconds["convs"]],
        "matmul_bf16": [2 * n**3 / 1e9 / t for t in seconds["matmul"]],
    }
    if "compiled" in arms:
        gflops["compiled"] = [step_gflop / t for t in seconds["compiled"]]

    def ratio(top: str, bottom: str) -> dict[str, float]:
        return spread([x / y for x, y in zip(gflops[top], gflops[bottom], strict=True)])

    pairs = {
        "eager_of_matmul": ("eager", "matmul_bf16"),
        "compiled_of_matmul": ("compiled", "matmul_bf16"),
        "conv_ceiling_of_matmul": ("conv_ceiling", "matmul_bf16"),
        "eager_of_conv_ceiling": ("eager", "conv_ceiling"),
        "compiled_of_conv_ceiling": ("compiled", "conv_ceiling"),
        "compiled_over_eager": ("compiled", "eager"),
    }
    return {
        **spec,
        "recipe_name": recipe.name,
        "reps_per_round": reps,
        "gflops_per_round": gflops,
        "median_gflops": {k: statistics.median(v) for k, v in gflops.items()},
        "ratios": {name: ratio(*pair) for name, pair in pairs.items() if set(pair) <= gflops.keys()},
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` rather than ``ru_maxrss``, which Linux carries
    over from the parent across ``exec`` and so would report the parent's peak in a fresh worker."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SETTLED_FAULTS = 1000  # minor page faults (4 MB) in one step: the heap has stopped growing


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _rate(
    fn,
    batch: int,
    warmup: int,
    seconds: float,
    cpu: dict[str, float] | None = None,
    settle: int = 0,
    start_at: float | None = None,
) -> float:
    """Items per wall-clock second; with ``cpu``, also stores items per CPU-second of this process
    (``cpu["rate"]``), which is far less sensitive to other load on the machine, the warm-up steps
    taken (``cpu["warmup_steps"]``) and the page faults per measured step (``cpu["faults_per_step"]``).

    After ``warmup`` steps, up to ``settle`` more run until one page-faults less than
    ``SETTLED_FAULTS``: at 112 px glibc's heap keeps growing (each new page faulted in) for 5-6 steps
    before it holds a whole step, and a training runs hundreds of steps, so the steady state is what
    counts. A configuration that faults every step (glibc's defaults) never settles and is measured
    as it is.
    """
    for _ in range(warmup):
        fn()
    taken = warmup
    for _ in range(settle):
        before = _minor_faults()
        fn()
        taken += 1
        if _minor_faults() - before < SETTLED_FAULTS:
            break
    if start_at is not None:  # processes measured together start timing together, after their warm-ups
        time.sleep(max(0.0, start_at - time.time()))
    n, start, cpu_start, faults = 0, time.perf_counter(), time.process_time(), _minor_faults()
    while n < 2 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    if cpu is not None:
        cpu["rate"] = n * batch / max(time.process_time() - cpu_start, 1e-9)
        cpu["warmup_steps"] = taken
        cpu["faults_per_step"] = (_minor_faults() - faults) / n
    return n * batch / (time.perf_counter() - start)


def flops_per_clip(size: int, width: float, kt: int = 3) -> dict[str, float]:
    """Nominal FLOPs of one clip, forward and forward + backward (torch.utils.flop_counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    config = _config(size, width, kt)
    model = build_model(config, NUM_CLASSES, 1)
    x = torch.rand(2, 1, 10, size, size)
    with FlopCounterMode(display=False) as counter:
        model(x)
    forward = counter.get_total_flops() / 2
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    return {"forward_gflop": forward / 1e9, "train_gflop": counter.get_total_flops() / 2 / 1e9}


def matmul_peak(
    dtype: torch.dtype, n: int = 2048, repeats: int = 5, seconds: float = 1.0, device: str = "cpu"
) -> float:
    """Achieved GFLOP/s of a square matmul in ``dtype``: the practical peak a convolution can reach.

    The best of ``repeats`` short runs: a peak is what the machine can do, and one run of a few seconds
    varied from 237 to 321 GFLOP/s (fp32) between runs on the development machine.
    """
    a, b = torch.rand(n, n, device=device).to(dtype), torch.rand(n, n, device=device).to(dtype)
    matmul = _synchronized(lambda: a @ b, torch.device(device))
    return max(_rate(matmul, 1, 2, seconds) * 2 * n**3 / 1e9 for _ in range(repeats))


def _matmul_side(device_type: str) -> int:
    """The square matmul's side: a GPU needs a larger product than a CPU to reach its peak."""
    return 8192 if device_type == "cuda" else 2048


def matmul_peaks(device: str = "cpu") -> dict[str, float]:
    n = _matmul_side(device)
    return {
        dt: matmul_peak(getattr(torch, t), n, device=device)
        for dt, t in (("bf16", "bfloat16"), ("fp32", "float32"))
    }


def _subprocess(spec: dict[str, Any]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(spec.get("threads") or os.cpu_count() or 1)}
    cmd = [sys.executable, "-m", "benchmarks.bench_training", "--worker", json.dumps(spec)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, cwd=Path(__file__).parent.parent, text=True)


def _collect(proc: subprocess.Popen) -> dict[str, Any]:
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed with exit code {proc.returncode}")
    return json.loads(stdout.strip().splitlines()[-1])


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    return _collect(_subprocess(spec))


def interleaved(specs: list[dict[str, Any]], rounds: int) -> list[dict[str, Any]]:
    """Run each spec ``rounds`` times, alternating, and keep the median train rate per spec."""
    runs: list[list[dict[str, Any]]] = [[] for _ in specs]
    for _ in range(rounds):
        for i, spec in enumerate(specs):
            runs[i].append(run_spec(spec))
    out = []
    for spec_runs in runs:
        best = sorted(spec_runs, key=lambda r: r["train_clips_s"])[len(spec_runs) // 2]
        best["train_clips_s_all"] = [round(r["train_clips_s"], 3) for r in spec_runs]
        out.append(best)
    return out


def workers_comparison(spec: dict[str, Any], seconds: float) -> dict[str, float]:
    """Total training clips/s: two single-thread processes at once vs one two-thread process."""
    one = run_spec({**spec, "threads": 2, "seconds": seconds})
    procs = [_subprocess({**spec, "threads": 1, "seconds": seconds}) for _ in range(2)]
    two = [_collect(p) for p in procs]
    return {
        "one_worker_2_threads_clips_s": one["train_clips_s"],
        "two_workers_1_thread_clips_s": sum(r["train_clips_s"] for r in two),
    }


def gpu_sharing(
    spec: dict[str, Any], seconds: float, counts: tuple[int, ...] = (1, 2, 4), start_delay: float = 60.0
) -> dict[str, float]:
    """Total training clips/s of 1, 2 and 4 processes training at once on one GPU. Each times the same
    window (``start_at``, ``start_delay`` seconds on: CUDA start-up and warm-up take seconds per
    process), so the totals measure the shared device."""
    out = {}
    for n in counts:
        start_at = time.time() + start_delay
        procs = [
            _subprocess({**spec, "threads": 1, "seconds": seconds, "start_at": start_at}) for _ in range(n)
        ]
        out[str(n)] = sum(_collect(p)["train_clips_s"] for p in procs)
    return out


def synthetic_store(root: Path, subjects: int, image_size: int, seed: int = 0, difficulty: float = 0.5):
    """A prepared cache of the synthetic face set (or the test suite's fake CK+ when it is absent)."""
    from fer3d.data.prepare import PrepareConfig, prepare
    from fer3d.data.registry import read_dataset

    data = root / "data"
    try:
        from fer3d.data.synthetic import SynthConfig, generate

        synth = SynthConfig(
            subjects=subjects, seed=seed, difficulty=difficulty, image_size=max(image_size, 48)
        )
        if not (data / "Emotion").is_dir():  # already generated: a resumed benchmark reuses it
            generate(data, synth)
    except ImportError:
        sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
        from conftest import write_fake_ckplus

        write_fake_ckplus(data, subjects=subjects, classes=7, size=image_size, seed=seed)
    config = PrepareConfig(size=image_size, faces="none")
    return prepare(read_dataset("ckplus", data), root / "cache", config, workers=1, progress=False)


# Sequences per class among CK+'s 327 labelled ones: anger, contempt, disgust, fear, happy, sadness, surprise.
CKPLUS_COUNTS = (45, 18, 59, 25, 69, 28, 83)


def ckplus_like_subset(labels: np.ndarray, subjects: np.ndarray, n_sequences: int = 327, seed: int = 0):
    """Indices of about ``n_sequences`` clips in CK+'s class proportions, at least one of every subject."""
    rng = np.random.default_rng(seed)
    quotas = np.round(np.array(CKPLUS_COUNTS) * n_sequences / sum(CKPLUS_COUNTS)).astype(int)
    chosen = []
    for subject in rng.permutation(np.unique(subjects)):  # first one per subject: the neediest class
        own = rng.permutation(np.flatnonzero(subjects == subject))
        pick = own[np.argmax(quotas[labels[own]])]
        chosen.append(pick)
        quotas[labels[pick]] -= 1
    rest = np.setdiff1d(np.arange(len(labels)), chosen)
    for cls, quota in enumerate(quotas):
        pool = rest[labels[rest] == cls]
        chosen += rng.choice(pool, min(max(int(quota), 0), len(pool)), replace=False).tolist()
    return np.sort(np.array(chosen, dtype=int))


def ckplus_sized_folds(store, k: int = 10, n_sequences: int = 327, seed: int = 0):
    """Subject k-folds over a CK+-like subset: every subject kept, ``n_sequences`` sequences in CK+'s class
    proportions (so balanced epochs cost what they would on CK+)."""
    from fer3d.evaluation.splits import Fold, subject_kfold

    subjects = np.asarray(store.subjects)
    within = ckplus_like_subset(np.asarray(store.labels), subjects, n_sequences, seed)
    folds = subject_kfold(store.labels[within], subjects[within], k=k, seed=seed)
    return [Fold(f.index, within[f.train], within[f.test]) for f in folds], within


def timed_cv(
    store,
    config: ExperimentConfig,
    folds,
    out_dir: Path | None = None,
    device: str = "cpu",
    workers: int | None = None,
) -> dict[str, Any]:
    """Cross-validate on ``device`` with ``workers`` fold processes (default: those ``evaluate --workers
    auto`` would use); with ``out_dir`` an interrupted run resumes (wall time: the rest only)."""
    from fer3d.evaluation.crossval import cross_validate
    from fer3d.evaluation.fold_workers import auto_workers, threads_per_worker

    workers = workers or auto_workers(config, device, len(folds))
    start = time.perf_counter()
    result = cross_validate(
        store, config, "kfold", folds=folds, device=device, progress=True, out_dir=out_dir, workers=workers
    )
    wall = time.perf_counter() - start
    data_fraction = statistics.mean(f.data_fraction for f in result.folds)
    return {
        "wall_s": wall,
        "device": device,
        "workers": workers,
        "threads_per_worker": threads_per_worker(workers),
        "pooled_accuracy": result.pooled_accuracy,
        "fold_accuracies": result.fold_accuracies,
        "data_fraction": data_fraction,
        "train_s_per_fold": statistics.mean(f.train_seconds for f in result.folds),
        "n_tested": int(len(result.tested)),
        "folds": len(result.folds),
    }


COST_GRID = [(s, w) for s in (32, 36, 40, 48, 64, 112) for w in (0.25, 0.5, 1.0)]


def cost_table(seconds: float, kernels: tuple[int, ...] = (1, 3, 5, 7, 9)) -> list[dict[str, Any]]:
    """Training clips/s under the CPU recipe: input size x width (kt 3), and every kt at the CPU default."""
    cpu = get_config("ckplus-paper", profile="cpu")
    cells = [(s, w, 3) for s, w in COST_GRID]
    cells += [(cpu.input.size, cpu.model.width, kt) for kt in kernels if kt != 3]
    rows = []
    for size, width, kt in cells:
        spec = {"size": size, "width": width, "kt": kt, "batch": 16}
        spec |= {"warmup": 1, "settle": 8, "seconds": seconds}
        row = measure_steps({**spec, "recipe": "recipe"})
        row["train_gflop"] = flops_per_clip(size, width, kt)["train_gflop"]
        rows.append(row)
        print(
            f"cost: {size:4d} px  width {width:<5} kt {kt}  {row['recipe_name']:38} "
            f"train {row['train_clips_s']:7.2f} clips/s  infer {row['infer_clips_s']:7.2f} clips/s",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and no 10-fold runs (minutes, not an hour)"
    )
    parser.add_argument("--skip-cv", action="store_true", help="skip the LOSO and 10-fold wall-time runs")
    parser.add_argument("--cost-table", action="store_true", help="only the size x width x kt cost table")
    parser.add_argument(
        "--paired",
        action="store_true",
        help="only the paired rounds: eager and compiled steps, convs alone, bf16 matmul in turn",
    )
    parser.add_argument(
        "--conv-ceiling",
        action="store_true",
        help="only the conv ceiling (each Conv3d alone at the step's shapes) and the matmul peaks",
    )
    parser.add_argument(
        "--cv-only",
        action="store_true",
        help="only the CPU-default wall times (fp32 unless --precision): a LOSO trial, a CK+-sized 10-fold",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        help="--cv-only at this input size instead of the CPU default's (writes cv_ckplus_sized_<N>px.json)",
    )
    parser.add_argument("--batch-size", type=int, help="--cv-only at this batch size (adds _batch<N>)")
    parser.add_argument("--epochs", type=int, help="--cv-only with this many epochs (adds _<N>epochs)")
    parser.add_argument(
        "--ramp-epochs",
        type=int,
        help="--cv-only with this augmentation ramp (train.augment.ramp_epochs; 0: full from the start)",
    )
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="--cv-only in this precision (bf16 adds _bf16; the cost table's precision is the recipe's)",
    )
    parser.add_argument(
        "--compile",
        choices=("auto", "on", "off"),
        help="--cv-only with this train.compile (on / off add _compiled / _eager)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="cpu (default) or cuda: the speed tables on that device (cuda writes training_cuda.json, "
        "with several trainings sharing the GPU instead of the CPU worker comparison and no 10-folds; "
        "with --cv-only, the wall times on that device, adding _cuda)",
    )
    parser.add_argument(
        "--seconds", type=float, help="seconds each speed measurement runs (default 15; 6 --quick)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="--cv-only with this many fold processes (default: auto; adds _workers<N>)",
    )
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        modes = {"conv_ceiling": conv_ceiling, "paired": paired_rounds}
        print(json.dumps(modes.get(spec.get("mode", ""), measure_steps)(spec)))
        return {}
    rounds, seconds = (1, 6.0) if args.quick else (3, 15.0)
    seconds = args.seconds or seconds
    if args.cost_table:
        rows = cost_table(seconds)
        # the recipe's precision names the file: an AMX machine measures bf16, others fp32
        bf16 = (
            choose_recipe(get_config("ckplus-paper", profile="cpu"), "cpu").autocast_dtype == torch.bfloat16
        )
        _write(rows, f"cost_table{'_bf16' if bf16 else ''}.json")
        return {"cost_table": rows}
    cpu = get_config("ckplus-paper", profile="cpu")
    if args.cv_only:
        # each option given overrides the CPU default and names itself in the result file
        options = (
            (args.input_size, "input.size", "_{}px"),
            (args.batch_size, "train.batch_size", "_batch{}"),
            (args.epochs, "train.epochs", "_{}epochs"),
        )
        given = [(value, key, suffix) for value, key, suffix in options if value]
        overrides = {key: value for value, key, _ in given}
        if args.ramp_epochs is not None:
            overrides["train.augment.ramp_epochs"] = args.ramp_epochs
        if args.compile:
            overrides["train.compile"] = args.compile
        cpu = cpu.with_overrides(overrides)
        name = "cv_ckplus_sized" + "".join(suffix.format(value) for value, _, suffix in given)
        # a run with an augmentation ramp says so in its name (the files without one predate it)
        ramp = cpu.train.augment.ramp_epochs
        name += f"_ramp{ramp}" if ramp else ""
        name += {"on": "_compiled", "off": "_eager"}.get(args.compile or "auto", "")
        name += f"_workers{args.workers}" if args.workers else ""
        name += "_cuda" if args.device == "cuda" else ""
        name += "_bf16.json" if args.precision == "bf16" else ".json"
        report = {
            "load_avg_at_start": os.getloadavg(),
            "input_size": cpu.input.size,
            "width": cpu.model.width,
            "batch_size": cpu.train.batch_size,
            "epochs": cpu.train.epochs,
            "ramp_epochs": ramp,
            "compile": cpu.train.compile,
            "cpu_has_amx_bf16": cpu_has_amx_bf16(),
            **cv_benchmarks(cpu, (args.precision,), args.device, args.workers),
        }
        print(json.dumps(report, indent=1))
        return _write(report, name)
    device = args.device
    report: dict[str, Any] = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "cpu_count": os.cpu_count(),
        "cpu_has_amx_bf16": cpu_has_amx_bf16(),
        "load_avg_at_start": os.getloadavg(),
    }
    full = {"size": 112, "width": 1.0, "batch": 16, "warmup": 2, "settle": 8, "seconds": seconds}
    ceiling = {"recipe": "recipe", "mode": "conv_ceiling", "seconds": seconds / 3, "device": device}
    paired = {"recipe": "recipe", "mode": "paired", "warmup": 3, "rounds": 4 if args.quick else 12}
    paired_specs = {"full_112": {**full, **paired}, "cpu_default": {**small_spec(cpu), **paired}}
    if args.paired:  # each round measures its own matmul: no peaks before and after
        report["paired"] = {key: run_spec({**spec, "device": device}) for key, spec in paired_specs.items()}
        _print_paired(report)
        return _write(report, _result_name("paired", device))
    peaks = [matmul_peaks(device)]
    if args.conv_ceiling:
        report["conv_ceiling"] = {"full_112": run_spec({**full, **ceiling})}
        _record_peaks(report, peaks + [matmul_peaks(device)])
        _print_ceiling(report)
        return _write(report, _result_name("conv_ceiling", device))
    if device == "cuda":  # the full run fits a lent GPU's minutes: its compiled step is --paired's to measure
        paired_specs = {key: {**spec, "compile": False} for key, spec in paired_specs.items()}
    small = {**small_spec(cpu), "warmup": 3, "settle": 10, "seconds": seconds}
    full, small = {**full, "device": device}, {**small, "device": device}
    name = _result_name("training", device)
    report["flops"] = {
        "full_112": flops_per_clip(112, 1.0),
        "cpu_default": flops_per_clip(cpu.input.size, cpu.model.width),
    }
    for key, spec in (("full_112", full), ("cpu_default", small)):
        config = _config(spec["size"], spec["width"], batch=spec["batch"])
        report[key] = interleaved([{**spec, "recipe": k} for k in _recipe_kinds(config, device)], rounds)
    _write(report, name)  # so far: a run cut short (a lent GPU's minutes) keeps what it measured
    if device != "cuda":  # on a GPU the paired rounds' convs alone give the same ceiling
        report["conv_ceiling"] = {
            key: run_spec({**spec, **ceiling}) for key, spec in (("full_112", full), ("cpu_default", small))
        }
    report["paired"] = {key: run_spec({**spec, "device": device}) for key, spec in paired_specs.items()}
    _write(report, name)
    if device == "cuda":
        report["gpu_sharing"] = gpu_sharing(
            {**small, "recipe": "recipe"}, seconds, start_delay=20 if args.quick else 60
        )
    else:
        report["workers"] = workers_comparison({**small, "recipe": "recipe"}, seconds)
    _record_peaks(report, peaks + [matmul_peaks(device)])  # again after the training runs
    if not (args.quick or args.skip_cv or device == "cuda"):
        report["cv"] = cv_benchmarks(cpu)
    _print(report)
    return _write(report, name)


def _recipe_kinds(config: ExperimentConfig, device: str) -> tuple[str, ...]:
    """What the speed table measures for ``config``: plain eager fp32 first (ratios are to it), the recipe
    in the precision it does not choose, and last the recipe as the library trains ``config`` (bf16 with
    AMX or on a GPU, else fp32), preceded by the same eager where it compiles."""
    chosen = choose_recipe(config, device)
    kinds = ("plain", "recipe-fp32" if chosen.autocast_dtype == torch.bfloat16 else "recipe-bf16", "recipe")
    if chosen.compile_from_steps is not None:
        kinds = (*kinds[:2], "recipe-eager", kinds[2])
    return kinds


def _record_peaks(report: dict[str, Any], peaks: list[dict[str, float]]) -> None:
    """Matmul peaks measured before and after the runs; the higher of each is the peak."""
    report["matmul_gflops"] = {k: max(p[k] for p in peaks) for k in ("bf16", "fp32")}
    report["matmul_gflops_each"] = peaks


def _result_name(stem: str, device: str) -> str:
    """A speed result's file name: a GPU's results beside, not over, the CPU's."""
    return f"{stem}_cuda.json" if device == "cuda" else f"{stem}.json"


def _write(report: Any, name: str) -> Any:
    """``report`` as JSON in ``benchmarks/results/name``; returns it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {path}")
    return report


def cv_benchmarks(
    cpu: ExperimentConfig,
    precisions: tuple[str, ...] = ("fp32", "bf16"),
    device: str = "cpu",
    workers: int | None = None,
) -> dict[str, Any]:
    """Wall time of one LOSO trial (small set) and of 10-fold on a CK+-sized set, in each precision on
    the same folds (so the accuracies compare too), on ``device`` with ``workers`` fold processes
    (default: auto)."""
    from fer3d.evaluation.splits import loso

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = synthetic_store(Path(tmp) / "small", subjects=10, image_size=cpu.input.size)
        out["loso_10_subjects"] = timed_cv(
            store, cpu, loso(np.asarray(store.subjects)), device=device, workers=workers
        )
        store = synthetic_store(Path(tmp) / "ck", subjects=118, image_size=cpu.input.size)
        folds, within = ckplus_sized_folds(store)
        out["ckplus_sized_set"] = {
            "sequences": len(within),
            "subjects": len(set(np.asarray(store.subjects)[within].tolist())),
            "class_counts": np.bincount(store.labels[within]).tolist(),
        }
        for precision in precisions:
            out[f"kfold10_ckplus_sized_{precision}"] = timed_cv(
                store,
                cpu.with_overrides({"train.precision": precision}),
                folds,
                device=device,
                workers=workers,
            )
    return out


def _print(report: dict[str, Any]) -> None:
    peak = report["matmul_gflops"]
    print(
        f"matmul peak: bf16 {peak['bf16']:.0f} GFLOP/s, fp32 {peak['fp32']:.0f} GFLOP/s "
        f"(load avg at start {report['load_avg_at_start'][0]:.1f})"
    )
    print(
        f"{'model':12} {'recipe':40} {'train clips/s':>13} {'per CPU-s':>9} {'infer clips/s':>13} "
        f"{'GFLOP/s':>8} "
        f"{'% bf16 mm':>9} {'% fp32 mm':>9} {'peak MB':>8} {'faults/step':>11}"
    )
    for key in ("full_112", "cpu_default"):
        gflop = report["flops"][key]["train_gflop"]
        for r in report[key]:
            achieved = r["train_clips_s"] * gflop
            print(
                f"{key:12} {r['recipe_name']:40} {r['train_clips_s']:13.2f} "
                f"{r['train_clips_per_cpu_s']:9.2f} "
                f"{r['infer_clips_s']:13.2f} "
                f"{achieved:8.0f} {100 * achieved / peak['bf16']:8.0f}% "
                f"{100 * achieved / peak['fp32']:8.0f}% "
                f"{r['peak_rss_mb']:8.0f} {r['faults_per_step']:11.0f}"
            )
        ratio = report[key][-1]["train_clips_s"] / report[key][0]["train_clips_s"]
        cpu_ratio = report[key][-1]["train_clips_per_cpu_s"] / report[key][0]["train_clips_per_cpu_s"]
        print(
            f"{key:12} recipe / plain training speed: {ratio:.2f}x wall, {cpu_ratio:.2f}x per CPU-second "
            f"(train {gflop:.2f} GFLOP/clip nominal)"
        )
    _print_ceiling(report)
    _print_paired(report)
    if "workers" in report:
        w = report["workers"]
        print(
            f"workers: 1 x 2 threads {w['one_worker_2_threads_clips_s']:.1f} clips/s, "
            f"2 x 1 thread {w['two_workers_1_thread_clips_s']:.1f} clips/s"
        )
    for n, rate in report.get("gpu_sharing", {}).items():
        print(f"GPU shared by {n} training process(es): {rate:.1f} clips/s in all")
    for name, r in report.get("cv", {}).items():
        if "wall_s" not in r:  # the set's description
            continue
        print(
            f"{name:32} wall {r['wall_s']:7.1f} s  accuracy {100 * r['pooled_accuracy']:5.1f}%  "
            f"data time {100 * r['data_fraction']:.1f}% of training  ({r['n_tested']} tested)"
        )


def small_spec(cpu: ExperimentConfig) -> dict[str, Any]:
    """The CPU default's model and batch, as benchmark specs name them."""
    return {"size": cpu.input.size, "width": cpu.model.width, "batch": cpu.train.batch_size}


def _print_paired(report: dict[str, Any]) -> None:
    """Medians over the paired rounds (ratios taken within each round)."""
    for key, p in report.get("paired", {}).items():
        g, r = p["median_gflops"], p["ratios"]
        steps = ["eager", "compiled"] if "compiled" in g else ["eager"]  # the GPU's full run: eager only
        share = functools.partial(_median_share, r)
        print(
            f"{key:12} paired, {len(p['gflops_per_round']['eager'])} rounds (GFLOP/s medians): "
            + ", ".join(f"{s} {g[s]:.0f}" for s in steps)
            + f", convs alone {g['conv_ceiling']:.0f}, bf16 matmul {g['matmul_bf16']:.0f}"
        )
        of_matmul = " / ".join(f"{s} {share(f'{s}_of_matmul')}" for s in steps)
        of_convs = " / ".join(f"{s} {share(f'{s}_of_conv_ceiling')}" for s in steps)
        line = (
            f"{key:12} within rounds: {of_matmul} / convs alone {share('conv_ceiling_of_matmul')} of the "
            f"bf16 matmul; {of_convs} of the convs alone"
        )
        if "compiled" in g:
            gain = r["compiled_over_eager"]
            line += f"; compiled / eager {gain['median']:.2f}x ({gain['min']:.2f}-{gain['max']:.2f})"
        print(line)


def _median_share(ratios: dict[str, dict[str, float]], name: str) -> str:
    """One paired ratio's median, as a percentage."""
    return f"{100 * ratios[name]['median']:.0f}%"


def _print_ceiling(report: dict[str, Any]) -> None:
    """Per conv layer: GFLOP/s alone, and the step's ceiling against the matmul peak."""
    peak = report["matmul_gflops"]["bf16"]
    for key, c in report.get("conv_ceiling", {}).items():
        rates = " ".join(f"{layer['gflops']:.0f}" for layer in c["layers"])
        print(
            f"{key:12} convs alone ({c['recipe_name']}): {c['conv_seconds_per_step']:.3f} s a batch, "
            f"{c['conv_gflops']:.0f} GFLOP/s ({100 * c['conv_gflops'] / peak:.0f}% of bf16 matmul); "
            f"per layer {rates}; step ceiling {c['step_ceiling_gflops']:.0f} GFLOP/s"
        )
        steps = [r for r in report.get(key, []) if r["recipe"] == "recipe"]
        if steps:
            achieved = steps[0]["train_clips_s"] * report["flops"][key]["train_gflop"]
            print(
                f"{key:12} the recipe's step executes {100 * achieved / c['step_ceiling_gflops']:.0f}% of it"
            )


if __name__ == "__main__":
    main()
