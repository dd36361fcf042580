"""What each cost knob of the ``cpu`` profile buys: training steps per second of its model, one thread.

The ``cpu`` profile's model (CK+ preset, 40 px, width 0.25, 10 frames, batch 16) against the same model
with one knob turned: the last 5 frames, width 0.1875 or 0.125, 32 px, batch 8. Each row times forward,
backward and Adam steps on random clips in one process with one thread (as a fold worker trains), so
the rows compare with each other on one machine. What the knobs cost in accuracy is measured apart, in
``docs/techniques.md``.

    python -m benchmarks.bench_profile_knobs [--quick]    # seconds; --quick: fewer knobs, shorter rows
"""

from __future__ import annotations

from typing import Any

import torch

from benchmarks import harness

NAME = "profile-knobs"
NUM_CLASSES = 7
KNOBS: dict[str, dict[str, Any]] = {
    "the cpu profile": {},
    "input.frames=5": {"input.frames": 5},
    "model.width=0.1875": {"model.width": 0.1875},
    "model.width=0.125": {"model.width": 0.125},
    "input.size=32": {"input.size": 32},
    "train.batch_size=8": {"train.batch_size": 8},
}
QUICK_KNOBS = ("the cpu profile", "input.frames=5", "model.width=0.125")


def steps_per_second(overrides: dict[str, Any], seconds: float) -> dict[str, float]:
    """Training clips per second of the ``cpu`` profile's model with ``overrides``, channels-last fp32."""
    from fer3d.models import build_model
    from fer3d.presets import get_config

    config = get_config("ckplus-paper", "cpu", overrides)
    torch.manual_seed(0)
    model = build_model(config, NUM_CLASSES, 1).to(memory_format=torch.channels_last_3d)
    optimizer = torch.optim.Adam(model.parameters(), config.train.lr, fused=True)
    size, batch = config.input.size, config.train.batch_size
    clips = torch.randn(batch, 1, config.input.frames, size, size).to(memory_format=torch.channels_last_3d)
    labels = torch.arange(batch) % NUM_CLASSES

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(clips), labels).backward()
        optimizer.step()

    return harness.rate(step, batch, warmup=10, seconds=seconds)  # the first steps grow the heap


def run(args, log: harness.Log) -> harness.Measured:
    from fer3d.runtime import configure_process

    configure_process(threads=1)
    names = QUICK_KNOBS if args.quick else tuple(KNOBS)
    seconds = 2.0 if args.quick else 6.0
    rows = []
    for name in names:
        measured = steps_per_second(KNOBS[name], seconds)
        rows.append(
            {"knob": name, "train_clips_s": measured["per_s"], "train_clips_per_cpu_s": measured["per_cpu_s"]}
        )
        speedup = measured["per_s"] / rows[0]["train_clips_s"]
        log(f"{name:20s} {measured['per_s']:7.1f} training clips/s ({speedup:.2f}x the profile)")
    summary = {row["knob"]: row["train_clips_s"] / rows[0]["train_clips_s"] for row in rows}
    return harness.Measured({"preset": "ckplus-paper", "profile": "cpu", "threads": 1}, rows, summary)


if __name__ == "__main__":
    harness.main(NAME, run, description=__doc__.splitlines()[0])
