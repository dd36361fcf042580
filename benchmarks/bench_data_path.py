"""Operators the training data path dispatches per step, one batch at a time against in chunks.

On a GPU every dispatched operator is a kernel launch, and the ``cpu`` profile's data kernels are too
small to hide their launches, so the count per step is what chunking cuts. Counted on the CPU with a
dispatch mode, for one CK+-sized balanced epoch at 40 px (the ``cpu`` profile) and, in a full run, at
112 px, with the Oulu preset's per-clip normalisation; planning (the epoch's augmentation draw and the
transforms derived from it) is counted apart from preparing the clips. Also host milliseconds per step.
- ``one batch at a time``: the CPU recipe (``data_chunk_bytes=None``);
- ``chunks``: the CUDA recipe's chunk budget (``recipe.CUDA_DATA_CHUNK_BYTES``).

    python -m benchmarks.bench_data_path [--quick]    # seconds; --quick: 40 px only
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks import harness
from fer3d.presets import get_config
from fer3d.training.batches import batches_per_chunk, plan_epoch, prepare_chunk
from fer3d.training.recipe import CUDA_DATA_CHUNK_BYTES

NAME = "data-path"
CLIPS_PER_EPOCH = 581  # a CK+-sized fold's balanced epoch: 7 classes x 83 (surprise, the largest class)


class _CountOps(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def _epoch(size: int, chunk_bytes: int | None) -> dict[str, float]:
    """Steps, operators dispatched per step (planning: the draw and its transforms; preparing: on the
    clips) and host time per step for one epoch's batches, prepared on the CPU."""
    config = get_config("oulu-paper", profile="cpu", overrides={"input.size": size})
    clips = torch.randint(0, 256, (CLIPS_PER_EPOCH, 1, 10, size, size), dtype=torch.uint8)
    order = torch.randperm(CLIPS_PER_EPOCH, generator=torch.Generator().manual_seed(0))
    batch_size = config.train.batch_size
    chunks = batches_per_chunk(chunk_bytes, batch_size, tuple(clips.shape[1:]))
    planning, preparing = _CountOps(), _CountOps()

    def prepare_epoch(count: bool) -> int:
        generator = torch.Generator().manual_seed(0)
        with planning if count else contextlib.nullcontext():
            plan = plan_epoch(order, batch_size, config.train.augment, generator, 1.0, torch.device("cpu"))
        for chunk in plan.chunks(chunks):
            with preparing if count else contextlib.nullcontext():
                prepare_chunk(
                    plan,
                    chunk,
                    clips,
                    normalized=config.input.normalize,
                    channels_last=True,
                )
        return len(plan.bounds)

    steps = prepare_epoch(count=True)
    prepare_epoch(count=False)  # warm-up
    start = time.perf_counter()
    prepare_epoch(count=False)  # timed without the counting modes' Python call per operator
    seconds = time.perf_counter() - start
    return {
        "steps": steps,
        "planning_ops_per_step": sum(planning.ops.values()) / steps,
        "device_ops_per_step": sum(preparing.ops.values()) / steps,
        "host_ms_per_step": 1e3 * seconds / steps,
    }


def run(args, log: harness.Log) -> harness.Measured:
    rows = []
    for size in (40,) if args.quick else (40, 112):
        for name, chunk_bytes in (
            ("one batch at a time", None),
            ("chunks (CUDA budget)", CUDA_DATA_CHUNK_BYTES),
        ):
            row = {"size": size, "preparation": name} | _epoch(size, chunk_bytes)
            rows.append(row)
            log(
                f"{size:4d} px, {name:22s}: {row['device_ops_per_step']:6.2f} operators per step on clips, "
                f"{row['planning_ops_per_step']:5.1f} planning, {row['host_ms_per_step']:6.2f} ms per step"
            )
    return harness.Measured({"clips_per_epoch": CLIPS_PER_EPOCH, "preset": "oulu-paper"}, rows)


if __name__ == "__main__":
    harness.main(NAME, run)
