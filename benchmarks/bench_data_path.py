"""How many kernels the data path launches per training step, one batch at a time against in chunks.

On a GPU the CPU default's data kernels are too small to hide their launches (data time was 12.7% of
training time on an H200 with one batch prepared per step), so the count of operators dispatched per
step is what chunking is meant to cut. Counted here on the CPU with a dispatch mode (every aten
operator the data path runs on the clips, which on a GPU is a kernel launch or a view; planning, the
draw of the epoch's augmentation on the CPU generator and the transforms derived from it on the device,
is counted apart), for one epoch of the CPU default (40 px) and of the 112 px model, each with the Oulu
preset's per-clip normalisation:
- ``one batch at a time``: the CPU recipe (``data_chunk_bytes=None``);
- ``chunks``: the CUDA recipe's chunk budget (``recipe.CUDA_DATA_CHUNK_BYTES``).
Also the host time per step on the CPU for both. Before chunking, each step also copied its indices and
augmentation parameters to the device (two copies, each waiting for the GPU's queue); a plan copies
them once, from pinned memory. On a GPU a plan holds as many epochs as a chunk (``training.batches``),
so there planning and preparing cost even less per step than one epoch's count here.

    PYTHONPATH=.:src python -m benchmarks.bench_data_path      # a few seconds

Writes ``benchmarks/results/data_path.json``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.bench_training import RESULTS
from fer3d.presets import get_config
from fer3d.training.batches import batches_per_chunk, plan_epoch, prepare_chunk
from fer3d.training.recipe import CUDA_DATA_CHUNK_BYTES

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


def main() -> dict[str, Any]:
    rows = []
    for size in (40, 112):
        for name, chunk_bytes in (
            ("one batch at a time", None),
            ("chunks (CUDA budget)", CUDA_DATA_CHUNK_BYTES),
        ):
            row = {"size": size, "preparation": name} | _epoch(size, chunk_bytes)
            rows.append(row)
            print(
                f"{size:4d} px, {name:22s}: {row['device_ops_per_step']:6.2f} operators per step on the "
                f"clips, {row['planning_ops_per_step']:5.1f} planning, "
                f"{row['host_ms_per_step']:6.2f} ms per step on this CPU",
                flush=True,
            )
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}
    path = RESULTS / "data_path.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
