"""The one-input-channel first conv: oneDNN's Conv3d against the matmul over its taps.

Two measurements, both interleaved (stock, then taps, round after round, in one process), because this
machine's speed drifts more between runs than the effect:
- the conv alone, forward + weight gradient, in bf16 autocast and in fp32, at the 112 px model's shape
  and at the CPU-default sizes;
- the whole recipe step with and without the taps path: eager at 112 px (two threads), eager and
  compiled (as ``train.compile: auto`` trains it) at the CPU default (one thread, as its fold workers
  run); each arm has its own model, compiled with its own choice.

    PYTHONPATH=.:src python -m benchmarks.bench_first_conv            # about 10 minutes on 2 cores
    PYTHONPATH=.:src python -m benchmarks.bench_first_conv --quick    # fewer rounds
    PYTHONPATH=.:src python -m benchmarks.bench_first_conv --compiled-only  # the compiled CPU-default step

Writes ``benchmarks/results/first_conv.json`` (``first_conv_compiled.json`` with ``--compiled-only``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
from typing import Any
from unittest import mock

import torch

from benchmarks.bench_training import RESULTS, _training_step, _worker_setup, interleaved_rounds, spread
from fer3d.presets import get_config
from fer3d.training import recipe as recipe_module
from fer3d.training.allocator import tune_allocator
from fer3d.training.single_channel_conv import single_channel_conv3d

# (input size, conv1 channels, threads): the 112 px model, and the CPU default's 16 channels at 40 px
# with one and two threads and at 48 px
CONV_SHAPES = ((112, 64, 2), (40, 16, 1), (40, 16, 2), (48, 16, 1))


def _never(conv: torch.nn.Conv3d, x: torch.Tensor) -> bool:
    return False


def _stock_only() -> contextlib.AbstractContextManager:
    """Within the block the recipe's guard leaves the first conv to oneDNN. Always the same function, so
    a step compiled within the block keeps matching dynamo's guards on the next round."""
    return mock.patch.object(recipe_module, "takes_taps_path", _never)


def _paired(arms: dict[str, Any], rounds: int, warmup: int = 3) -> dict[str, Any]:
    """``stock`` and ``taps`` in turn, round after round: median times and the per-round speed-up."""
    _, seconds = interleaved_rounds(arms, warmup, rounds)
    return {
        "ms_median": {name: statistics.median(v) * 1e3 for name, v in seconds.items()},
        "taps_speedup": spread([s / t for s, t in zip(seconds["stock"], seconds["taps"], strict=True)]),
        "rounds": rounds,
    }


def conv_alone(size: int, channels: int, threads: int, precision: str, rounds: int) -> dict[str, Any]:
    """Forward + weight gradient of a kt-3 first conv on a batch of 16 clips of 10 frames."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    conv = torch.nn.Conv3d(1, channels, (3, 3, 3), padding=1, bias=False)
    conv = conv.to(memory_format=torch.channels_last_3d)
    clips = torch.rand(16, 1, 10, size, size).contiguous(memory_format=torch.channels_last_3d)
    upstream = torch.randn(16, channels, 10, size, size).to(dtype)
    upstream = upstream.contiguous(memory_format=torch.channels_last_3d)

    def arm(forward):
        def run() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                out = forward(clips)
            out.backward(upstream)

        return run

    arms = {
        "stock": arm(conv),
        "taps": arm(lambda x: single_channel_conv3d(x, conv.weight, conv.bias)),
    }
    return {"size": size, "channels": channels, "threads": threads, "precision": precision} | _paired(
        arms, rounds
    )


def whole_step(size: int, width: float, threads: int, rounds: int, compiled: bool = False) -> dict[str, Any]:
    """The recipe step (bf16 where the recipe takes it, eager or compiled) with the taps path and without:
    one model per arm, each compiled (where ``compiled``) with its own choice."""
    spec = {"size": size, "width": width, "batch": 16, "recipe": "recipe-eager", "threads": threads}
    arms = {}
    for name in ("stock", "taps"):
        device, config, recipe, model = _worker_setup(spec)
        step, _ = _training_step(spec, device, config, recipe, model)
        forward = torch.compile(model, dynamic=False) if compiled else model
        arms[name] = _arm(step, forward, recipe, model, stock=name == "stock")
    result = _paired(arms, rounds, warmup=8)
    kind = "compiled" if compiled else "eager"
    return {"size": size, "width": width, "threads": threads, "recipe_name": f"{recipe.name} {kind}"} | result


def _arm(step, forward, recipe, model, *, stock: bool):
    def run() -> None:
        with recipe.guard(model), _stock_only() if stock else contextlib.nullcontext():
            step(forward)

    return run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about 4 minutes)")
    parser.add_argument("--compiled-only", action="store_true", help="only the compiled CPU-default step")
    args = parser.parse_args(argv)
    tune_allocator()
    conv_rounds, step_rounds = (5, 6) if args.quick else (9, 20)
    report: dict[str, Any] = {"torch": torch.__version__, "conv_alone": [], "whole_step": []}
    for size, channels, threads in () if args.compiled_only else CONV_SHAPES:
        for precision in ("bf16", "fp32"):
            row = conv_alone(size, channels, threads, precision, conv_rounds)
            report["conv_alone"].append(row)
            print(
                f"conv alone {size:4d} px {channels:3d} ch {threads} thr {precision}: stock "
                f"{row['ms_median']['stock']:7.1f} ms, taps {row['ms_median']['taps']:7.1f} ms, "
                f"taps speedup {row['taps_speedup']['median']:.2f}x",
                flush=True,
            )
    cpu = get_config("ckplus-paper", profile="cpu")
    steps = (
        (112, 1.0, 2, False),
        (cpu.input.size, cpu.model.width, 1, False),
        (cpu.input.size, cpu.model.width, 1, True),
    )
    for size, width, threads, compiled in steps[2:] if args.compiled_only else steps:
        row = whole_step(size, width, threads, step_rounds, compiled)
        report["whole_step"].append(row)
        speedup = row["taps_speedup"]
        print(
            f"whole step {size:4d} px width {width} {threads} thr ({row['recipe_name']}): taps speedup "
            f"{speedup['median']:.3f}x ({speedup['min']:.2f}-{speedup['max']:.2f}, {row['rounds']} rounds)",
            flush=True,
        )
    path = RESULTS / ("first_conv_compiled.json" if args.compiled_only else "first_conv.json")
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
