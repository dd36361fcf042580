"""The per-device training recipe, chosen automatically so users never tune it by hand.

CPU: fp32, channels-last-3d and a fused Adam step; bf16 autocast on CPUs with AMX tiles, where it was
measured several times faster than fp32 (without AMX, bf16 was measured slower: ``docs/performance.md``).
CUDA: bf16 autocast where supported, cuDNN autotuning, channels-last-3d, fused Adam. ``train.precision``
("fp32" or "bf16") overrides the precision. ``torch.compile`` of the training step (``train.compile``)
fuses the memory-bound passes between the convolutions; ``auto`` compiles only where it was measured
faster: long bf16 trainings on CPU, and on CUDA those of models that are not small (:func:`is_small_model`).

The recipe leaves process-wide settings alone: what it needs of torch's global switches (cuDNN
autotuning, compile errors falling back to eager) holds only inside :meth:`Recipe.torch_flags`; thread
counts and the allocator are the process's (``fer3d.runtime.configure_process``). Compiling a new
architecture drops dynamo's graphs of the previous one (:func:`training_forward`). The bf16 hazard of
oneDNN's Conv3d backward is handled by the model's own conv layers (``fer3d.models.conv``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from fer3d.config import ExperimentConfig
from fer3d.runtime import workers


@dataclass(frozen=True)
class Recipe:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None = fp32
    channels_last: bool
    fused_optimizer: bool = False  # one fused kernel for the whole Adam step
    # torch.compile the training step (forward, and so backward) of trainings of at least this many
    # optimiser steps; None: never. Compiling costs tens of seconds per process and architecture.
    compile_from_steps: int | None = None
    # prepare training batches in chunks of about this many bytes of float input (``training.batches``);
    # None: one batch at a time
    data_chunk_bytes: int | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    @contextlib.contextmanager
    def torch_flags(self) -> Iterator[None]:
        """Within the block, torch's global switches as this recipe trains and predicts with them, restored
        on leaving: cuDNN autotuning on CUDA (fixed shapes per training), and a compile that fails (no
        C++ compiler, say) warning and running eagerly instead of ending a long run at its first step."""
        cudnn = torch.backends.cudnn
        benchmark = cudnn.benchmark
        compile_flags = (
            torch._dynamo.config.patch(suppress_errors=True)
            if self.compile_from_steps is not None
            else contextlib.nullcontext()
        )
        with compile_flags:
            try:
                cudnn.benchmark = benchmark or self.device.type == "cuda"
                yield
            finally:
                cudnn.benchmark = benchmark

    @property
    def name(self) -> str:
        precision = "bf16" if self.autocast_dtype == torch.bfloat16 else "fp32"
        parts = [self.device.type, precision]
        parts += ["channels_last_3d"] if self.channels_last else []
        parts += ["fused_adam"] if self.fused_optimizer else []
        parts += ["compile"] if self.compile_from_steps is not None else []
        return "+".join(parts)


# input.size x model.width at or below which a model is small: on CPU one-thread processes train it
# faster side by side than one multi-thread process, whose threads wait for each other at every small
# convolution; on a GPU its kernels are too short to fill the device, so several trainings share it and
# compiling does not pay.
SMALL_MODEL_SIDE = 16.0


def is_small_model(config: ExperimentConfig) -> bool:
    return config.input.size * config.model.width <= SMALL_MODEL_SIDE


# fold or trial processes sharing one GPU for a small model: on an H200 at the CPU default four
# trained 3.3x the clips/s of one
GPU_SHARED_WORKERS = 4


def auto_workers(config: ExperimentConfig, device: torch.device | str | None, tasks: int) -> int:
    """How many processes to train ``tasks`` independent models of ``config`` with: for a small model one
    one-thread process per core on CPU, ``GPU_SHARED_WORKERS`` sharing a GPU; else one."""
    device = torch.device(device) if device is not None else default_device()
    if not is_small_model(config):
        return 1
    if device.type == "cuda":
        return max(1, min(GPU_SHARED_WORKERS, tasks))
    if device.type != "cpu":
        return 1
    return max(1, min(workers.available_cores(), tasks))


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 convolutions natively (AVX512-BF16 or AMX), not emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@functools.cache
def cpu_has_amx_bf16(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    """True on x86 CPUs whose kernel reports AMX bf16 tiles (Linux ``/proc/cpuinfo`` flag ``amx_bf16``)."""
    try:
        with open(cpuinfo_path) as cpuinfo:
            return any(line.startswith("flags") and "amx_bf16" in line.split() for line in cpuinfo)
    except OSError:
        return False


def choose_recipe(config: ExperimentConfig, device: torch.device | str | None = None) -> Recipe:
    """The recipe for training ``config`` on ``device`` (default: CUDA when available, else CPU)."""
    device = torch.device(device) if device is not None else default_device()
    precision = config.train.precision
    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        else:
            # bf16 measured slower than fp32 on a CPU without AMX
            precision = "bf16" if cpu_has_amx_bf16() else "fp32"
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        precision = "fp32"  # emulated bf16 is several times slower than fp32
    dtype = torch.bfloat16 if precision == "bf16" else None
    fused = device.type in ("cpu", "cuda")
    # auto: only where compiling was measured faster (see the module docstring): bf16 on CPU, models
    # that are not small on CUDA
    measured_faster = dtype == torch.bfloat16 and (
        device.type == "cpu" or (device.type == "cuda" and not is_small_model(config))
    )
    compile_from_steps = {
        "on": 0,
        "off": None,
        "auto": AUTO_COMPILE_FROM_STEPS if measured_faster else None,
    }[config.train.compile]
    return Recipe(
        device=device,
        autocast_dtype=dtype,
        channels_last=True,
        fused_optimizer=fused,
        compile_from_steps=compile_from_steps,
        data_chunk_bytes=CUDA_DATA_CHUNK_BYTES if device.type == "cuda" else None,
    )


# On a GPU, training batches are prepared this many bytes at a time, so that small batches' data kernels
# do not wait on their launches (256 MiB: 32 batches of 16 clips at 112 px). On the CPU one batch at a
# time keeps the batch in cache, and launches cost nothing.
CUDA_DATA_CHUNK_BYTES = 256 * 2**20


# ``train.compile: auto`` compiles trainings this long (where ``choose_recipe`` compiles at all), which
# pay back the compile (a CPU-default fold is about 900 steps); the test suite's short trainings stay eager.
AUTO_COMPILE_FROM_STEPS = 500


def training_forward(model: nn.Module, recipe: Recipe, steps: int) -> nn.Module:
    """What a training loop of ``steps`` optimiser steps calls: ``model`` itself, or its compiled form
    where ``recipe.compile_from_steps`` says.

    Call it inside ``recipe.torch_flags()``. ``dynamic=False``: one graph for the full batch, rather
    than a slower shape-generic one; ``fit`` runs a fold's short last batch (its size differs from fold
    to fold) eagerly. The compiled wrapper shares ``model``'s parameters, so saving and evaluating
    ``model`` are unchanged.
    """
    threshold = recipe.compile_from_steps
    if threshold is None or steps < threshold:
        return model
    global _compiled_architecture
    architecture = f"{recipe.autocast_dtype} {model}"
    if architecture != _compiled_architecture:
        # A search worker trains trial after trial in one process. Without this reset each new
        # architecture adds a graph, and after 8 dynamo would stop compiling and silently run eagerly;
        # folds of one trial share the architecture and keep its graph.
        torch._dynamo.reset()
        _compiled_architecture = architecture
    options = CPU_INDUCTOR_OPTIONS if recipe.device.type == "cpu" else None
    return torch.compile(model, dynamic=False, options=options)


# Inductor stores an elementwise result that several kernels read once it reads more than 4 inputs: in
# batch norm's backward, the fp32 gradient of its output, written and read back at full activation size.
# Recomputing it in each kernel instead makes large compiled CPU steps faster (``docs/performance.md``).
CPU_INDUCTOR_OPTIONS = {"realize_reads_threshold": 8}

_compiled_architecture: str | None = None  # what this process last compiled (see training_forward)


def plain_recipe(device: torch.device | str = "cpu") -> Recipe:
    """Eager fp32, contiguous layout, unfused Adam: the baseline the benchmarks compare against."""
    return Recipe(
        device=torch.device(device), autocast_dtype=None, channels_last=False, fused_optimizer=False
    )
