"""The per-device training recipe, chosen automatically so users never tune it by hand.

CPU: fp32, channels-last-3d, a fused Adam step and the glibc allocator fix; bf16 autocast on CPUs with
AMX tiles. bf16 is also available on request (``train.precision="bf16"``, only where the CPU has native
bf16 dot products) but is not the default without AMX: on the AVX512-BF16 development machine (no AMX)
bf16 is slower than fp32, measured in an idle steady-state run of ``benchmarks/bench_training.py``:
matmul 178 vs 341 GFLOP/s, C3D-BN training at 112 px 1.42 vs 1.80 clips/s, at the CPU default (40 px)
114.9 vs 140.5 clips/s.
With AMX, bf16 is several times faster, hence bf16 there; measured on a 2-core AMX Xeon in the same
benchmark (two runs): matmul up to 2031 vs 323 GFLOP/s, training at 112 px 5.1 vs 1.8 clips/s, at the
CPU default 150-184 vs 121-129 clips/s, with the same accuracy on the same folds (CK+-sized 10-fold:
73.7 vs 70.6%, p = 0.20).

A oneDNN hazard shapes the CPU recipe. In the PyTorch this project pins, the bf16 Conv3d backward of the
AVX512-BF16 kernels is wrong whenever a clip has more than one but fewer frames than the temporal kernel
(``1 < T < kt``, the temporal padding making up the rest): measured, the weight gradient then holds
uninitialised memory (different on every call, sometimes NaN), and for kt 7 at T=4 and kt 9 at T=5-6 the
process segfaults or aborts with heap corruption. C3D with 10 frames meets T=2 at conv4 for every kt >= 3
and T=5 at conv3. The same convolution with its temporal zero padding made explicit (``F.pad``, then a
conv with no temporal padding) never shows oneDNN a clip shorter than its kernel, and its bf16 gradients
match fp32 on both the AVX512-BF16 and the AMX kernels (tested). So the recipe runs such layers that way
inside bf16 autocast (:func:`guard_bf16_convs`, applied by ``fit`` and ``predict_proba``). Earlier
versions ran them in fp32 (a quarter of an AMX step at 112 px) and trained temporal kernel 9 wholly in
fp32; with the padding made explicit, kt 9 trains in bf16 under the AVX512-BF16 kernels that crash
without it (tested in a subprocess with ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16``).
CUDA: bf16 autocast where supported, cuDNN autotuning, channels-last-3d, fused Adam.
``train.precision`` ("fp32" or "bf16") overrides the precision.
Measured on an H200 (``bench_training --device cuda``): at 112 px the CUDA recipe trains 968 clips/s
against 544 for the plain fp32 recipe (1.78x) and 744 for the recipe in fp32.

``torch.compile`` of the training step (``train.compile``) fuses the memory-bound batch-norm, activation
and pooling passes between the convolutions. Measured on the AMX machine in bf16 with
``bench_training --paired`` (eager and compiled steps in turn in one process, so the machine's drift
cancels): 1.20x eager at the CPU default with one thread (1.15-1.25 over 10 rounds), 1.23x with two,
1.30x at 64 px, and no gain at 112 px (0.95x and 1.03x in two runs), for 40-50 s of compiling per process and
architecture. Separate runs minutes apart had suggested the opposite; on that machine only paired
rounds compare. Without AMX (fp32) it did not help training (the speed issue's measurement). On an
H200 in bf16, paired rounds gave 1.39x eager at 112 px (1.38-1.45 over 4 rounds) and 0.99x at the CPU
default, whose tiny kernels wait on their launches, which compiling does not remove. On the CPU the
bf16 step runs its one-channel first conv as a matmul (``training.single_channel_conv``); while only
the eager step did, two runs of 12 paired rounds gave compiled 0.94x and 0.98x eager at 112 px, and
still 1.20x and 1.22x at the CPU default. The compiled step now takes it too (1.056x at the CPU
default), and then compiled beat eager at 112 px as well: 1.04x (12 rounds) and 1.06x (24 rounds),
with 1.35x at the CPU default. So ``auto`` compiles bf16 trainings of at least
``AUTO_COMPILE_FROM_STEPS`` steps on CPU, and on CUDA those of models that are not small
(:func:`is_small_model`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fer3d.config import ExperimentConfig
from fer3d.runtime import workers
from fer3d.runtime.allocator import tune_allocator
from fer3d.training.single_channel_conv import single_channel_conv3d, takes_taps_path


def bf16_conv_unsafe(temporal_kernel: int, frames: int) -> bool:
    """Whether oneDNN's CPU bf16 Conv3d backward is wrong or crashes for this kernel and clip length."""
    return 1 < frames < temporal_kernel


def _guarded_conv_forward(conv: nn.Conv3d, x: torch.Tensor, unguarded_forward) -> torch.Tensor:
    kt, frames = conv.kernel_size[0], x.shape[2]
    cpu_autocast = x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
    if cpu_autocast and takes_taps_path(conv, x):
        return single_channel_conv3d(x, conv.weight, conv.bias)  # no oneDNN conv, so no hazard either
    if not (cpu_autocast and bf16_conv_unsafe(kt, frames)):
        return unguarded_forward(conv, x)
    pad_t = conv.padding[0] if not isinstance(conv.padding, str) else 0
    if conv.padding_mode == "zeros" and not bf16_conv_unsafe(kt, frames + 2 * pad_t):
        # the same zeros, made explicit: oneDNN now sees a clip at least as long as the kernel
        padded = F.pad(x, (0, 0, 0, 0, pad_t, pad_t))
        padding = (0, *conv.padding[1:])  # temporal padding done above
        return F.conv3d(padded, conv.weight, conv.bias, conv.stride, padding, conv.dilation, conv.groups)
    with torch.autocast("cpu", enabled=False):  # a conv the padding cannot fix: fp32
        return unguarded_forward(conv, x.float())


@functools.cache
def _guarded_class(conv_class: type[nn.Conv3d]) -> type[nn.Conv3d]:
    """A subclass of ``conv_class`` whose forward is guarded; one per class, made once."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _guarded_conv_forward(self, x, conv_class.forward)

    return type(f"Guarded{conv_class.__name__}", (conv_class,), {"forward": forward, "unguarded": conv_class})


@contextlib.contextmanager
def guard_bf16_convs(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, Conv3d layers whose input has ``1 < T < kt`` pad time explicitly under CPU autocast
    (or, where explicit zeros cannot lengthen the clip to the kernel, run in fp32), and a first layer with
    one input channel runs as a matmul over its taps (``training.single_channel_conv``: oneDNN's bf16
    kernel for it is slow).

    The guard swaps each such layer's class for a guarded subclass and back. Patching ``forward`` on each
    instance did the same in eager mode, but under ``torch.compile`` every fold's new functions failed
    dynamo's guards: it recompiled per fold and after 8 folds silently fell back to eager. One class per
    conv class keeps the compiled graph valid from fold to fold.
    """
    convs = [
        m
        for m in model.modules()
        if isinstance(m, nn.Conv3d)
        and (m.kernel_size[0] > 1 or m.in_channels == 1)
        and not hasattr(m, "unguarded")  # not nested
    ]
    originals = [type(conv) for conv in convs]
    for conv, original in zip(convs, originals, strict=True):
        conv.__class__ = _guarded_class(original)
    try:
        yield model
    finally:
        for conv, original in zip(convs, originals, strict=True):
            conv.__class__ = original


@dataclass(frozen=True)
class Recipe:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None = fp32
    channels_last: bool
    fused_optimizer: bool = False  # one fused kernel for the whole Adam step
    threads: int | None = None  # intra-op threads for this process; None leaves PyTorch's default
    # torch.compile the training step (forward, and so backward) of trainings of at least this many
    # optimiser steps; None: never. Compiling costs 40-50 s per process and architecture.
    compile_from_steps: int | None = None
    # prepare training batches in chunks of about this many bytes of float input (``training.batches``);
    # None: one batch at a time
    data_chunk_bytes: int | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def guard(self, model: nn.Module) -> contextlib.AbstractContextManager:
        """Wrap training or inference of ``model``: keeps bf16 off the Conv3d shapes oneDNN gets wrong and
        runs a one-channel first conv as a matmul (see :func:`guard_bf16_convs`)."""
        if self.device.type == "cpu" and self.autocast_dtype == torch.bfloat16:
            return guard_bf16_convs(model)
        return contextlib.nullcontext(model)

    def apply(self) -> None:
        """Process-wide settings the recipe needs; idempotent, called by ``fit`` before training."""
        if self.threads is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        if self.device.type == "cpu":
            tune_allocator()
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes per trial: autotuning pays off

    @property
    def name(self) -> str:
        precision = "bf16" if self.autocast_dtype == torch.bfloat16 else "fp32"
        parts = [self.device.type, precision]
        parts += ["channels_last_3d"] if self.channels_last else []
        parts += ["fused_adam"] if self.fused_optimizer else []
        parts += ["compile"] if self.compile_from_steps is not None else []
        return "+".join(parts)


# input.size x model.width at or below which a model is small: on CPU one-thread processes train it
# faster side by side than one multi-thread process (measured on 2 idle cores, CK+ preset, width 0.25:
# two one-thread processes 73-78 clips/s at 64 px against 58-66 for one two-thread process, 108 against
# 96-104 at 48 px); on a GPU its kernels are too short to fill the device, so several trainings share it
# and compiling does not pay (see ``fold_workers`` and the module docstring).
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


def choose_recipe(
    config: ExperimentConfig, device: torch.device | str | None = None, *, threads: int | None = None
) -> Recipe:
    """The recipe for training ``config`` on ``device`` (default: CUDA when available, else CPU)."""
    device = torch.device(device) if device is not None else default_device()
    precision = config.train.precision
    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        else:
            # see the module docstring: bf16 measured slower than fp32 on a CPU without AMX
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
        threads=threads,
        compile_from_steps=compile_from_steps,
        data_chunk_bytes=CUDA_DATA_CHUNK_BYTES if device.type == "cuda" else None,
    )


# On a GPU, training batches are prepared this many bytes at a time: at the CPU default each batch's
# dozen data kernels are too small to hide their launches (data time was 12.7% of training time with a
# chunk per batch on an H200), and 256 MiB is 32 batches of 16 clips at 112 px, a whole epoch at 40 px.
# On the CPU one batch at a time keeps the batch in cache and launches cost nothing (data time 1-2.5%).
CUDA_DATA_CHUNK_BYTES = 256 * 2**20


# ``train.compile: auto`` compiles trainings this long (where ``choose_recipe`` compiles at all): a
# CPU-default fold takes about 900 steps and a fold worker reuses the compiled graph for its later folds,
# so the 40-50 s compile is paid back; the test suite's few-step trainings stay eager.
AUTO_COMPILE_FROM_STEPS = 500


def training_forward(model: nn.Module, recipe: Recipe, steps: int) -> nn.Module:
    """What a training loop of ``steps`` optimiser steps calls: ``model`` itself, or its compiled form
    where ``recipe.compile_from_steps`` says.

    Call it inside ``recipe.guard(model)``, so the compiled graph includes the guard's padding and is
    traced once. ``dynamic=False``: one graph for the full batch, rather than a slower shape-generic
    one; ``fit`` runs a fold's short last batch (its size differs from fold to fold) eagerly. The
    compiled wrapper shares ``model``'s parameters, so saving and evaluating ``model`` are unchanged.
    """
    threshold = recipe.compile_from_steps
    if threshold is None or steps < threshold:
        return model
    # compiling is a speed-up, not a requirement: where it fails (no C++ compiler, say) dynamo warns and
    # the step runs eagerly instead of a long run crashing at its first step
    torch._dynamo.config.suppress_errors = True
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


# Inductor stores an elementwise result that several kernels read once it reads more than 4 inputs.
# In batch norm's backward that is the gradient of its output (from the activation's input, the batch
# statistics, the affine weights and the pooled gradient), which it wrote in fp32 for the reduction and
# the input gradient to read back: at 112 px 0.5 GB for conv1's output alone, each way. Recomputed in
# both kernels instead, the compiled 112 px step's memory-bound kernels took 465 ms against 980 (and the
# step 1.35x faster, median of 10 alternating rounds); the CPU default neither gains nor loses (1.00x).
CPU_INDUCTOR_OPTIONS = {"realize_reads_threshold": 8}

_compiled_architecture: str | None = None  # what this process last compiled (see training_forward)


def plain_recipe(device: torch.device | str = "cpu") -> Recipe:
    """Eager fp32, contiguous layout, unfused Adam: the baseline the benchmarks compare against."""
    return Recipe(
        device=torch.device(device), autocast_dtype=None, channels_last=False, fused_optimizer=False
    )
