"""The per-device recipe: what it chooses, and that every temporal kernel trains under it on CPU."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from fer3d.config import TEMPORAL_KERNELS
from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training import fit
from fer3d.training import recipe as recipe_module
from fer3d.training.recipe import (
    AUTO_COMPILE_FROM_STEPS,
    CUDA_DATA_CHUNK_BYTES,
    Recipe,
    choose_recipe,
    plain_recipe,
    training_forward,
)

CONFIG_FOR_COMPILE = get_config("ckplus-paper", profile="tiny")

# One optimiser step of the tiny profile (32 px, 10 frames: time reaches 5 frames after pool2, the shape
# where oneDNN's bf16 Conv3d backward with temporal kernel 9 crashes) under the recipe fit() would use.
STEP = """
import sys, numpy as np, torch
from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training import fit
from fer3d.training.recipe import choose_recipe
torch.set_num_threads(1)
kt, precision = int(sys.argv[1]), sys.argv[2]
config = get_config("ckplus-paper", profile="tiny", overrides={
    "model.temporal_kernel": kt, "train.precision": precision, "train.epochs": 1, "train.batch_size": 6})
recipe = choose_recipe(config, "cpu")
torch.manual_seed(0)
model = build_model(config, 3, 1)
clips = torch.randint(0, 256, (6, 1, 10, 32, 32), dtype=torch.uint8)
result = fit(model, clips, np.array([0, 1, 2, 0, 1, 2]), config, recipe, num_classes=3, seed=0)
assert np.isfinite(result.epoch_losses[0]), result.epoch_losses
print("ok", kt, precision, recipe.name)
"""


# oneDNN's AVX512-BF16 kernels (what a CPU without AMX runs) are the ones that crash and give wrong
# gradients; capping the ISA makes an AMX machine run them too, so the model's padded convs
# (``models.conv``) are tested on either kind.
BUGGY_BF16_ISA = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}


@pytest.mark.parametrize("kt", TEMPORAL_KERNELS)
def test_one_training_step_for_every_temporal_kernel_under_the_cpu_recipe(kt: int) -> None:
    # A subprocess, because the hazard is a segfault or a hang, not an exception.
    for precision, env in (("auto", {}), ("bf16", {}), ("bf16", BUGGY_BF16_ISA)):
        proc = subprocess.run(
            [sys.executable, "-c", STEP, str(kt), precision],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **env},
        )
        assert proc.returncode == 0, (
            f"kt={kt} precision={precision} {env}: rc {proc.returncode}\n{proc.stderr[-2000:]}"
        )
        assert proc.stdout.startswith(f"ok {kt} {precision}")


@pytest.mark.parametrize("kt", TEMPORAL_KERNELS)
def test_precision_override_is_respected_for_every_kernel(monkeypatch, kt: int) -> None:
    monkeypatch.setattr(recipe_module, "cpu_has_native_bf16", lambda: True)
    config = get_config("ckplus-paper", profile="tiny", overrides={"model.temporal_kernel": kt})
    bf16 = config.with_overrides({"train.precision": "bf16"})
    assert choose_recipe(bf16, "cpu").autocast_dtype == torch.bfloat16
    assert choose_recipe(config.with_overrides({"train.precision": "fp32"}), "cpu").autocast_dtype is None


@pytest.mark.parametrize(("amx", "expected"), [(True, torch.bfloat16), (False, None)])
def test_auto_precision_on_cpu_is_bf16_only_with_amx(monkeypatch, amx: bool, expected) -> None:
    monkeypatch.setattr(recipe_module, "cpu_has_amx_bf16", lambda: amx)
    monkeypatch.setattr(recipe_module, "cpu_has_native_bf16", lambda: True)
    config = get_config("ckplus-paper", profile="tiny")
    assert choose_recipe(config, "cpu").autocast_dtype == expected


@pytest.mark.parametrize(
    ("amx", "setting", "profile", "expected"),
    [
        (True, "auto", "tiny", AUTO_COMPILE_FROM_STEPS),  # bf16 on CPU: long trainings compile
        (True, "auto", "cpu", AUTO_COMPILE_FROM_STEPS),  # the CPU default: 1.35x eager
        (True, "auto", "full", AUTO_COMPILE_FROM_STEPS),  # 112 px: 1.04-1.06x eager
        (False, "auto", "tiny", None),  # fp32 without AMX: not measured faster
        (False, "on", "full", 0),
        (True, "off", "tiny", None),
    ],
)
def test_auto_compiles_only_long_cpu_bf16_trainings(
    monkeypatch, amx: bool, setting: str, profile: str, expected
) -> None:
    monkeypatch.setattr(recipe_module, "cpu_has_amx_bf16", lambda: amx)
    monkeypatch.setattr(recipe_module, "cpu_has_native_bf16", lambda: True)
    config = get_config("ckplus-paper", profile=profile, overrides={"train.compile": setting})
    recipe = choose_recipe(config, "cpu")
    assert recipe.compile_from_steps == expected
    model = torch.nn.Linear(2, 2)
    if expected is not None:  # compiled from the threshold on, eager below it
        assert training_forward(model, recipe, steps=expected) is not model
        assert expected == 0 or training_forward(model, recipe, steps=expected - 1) is model
    else:
        assert training_forward(model, recipe, steps=10**9) is model


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_cpu_compiles_recompute_batch_norm_gradients_instead_of_storing_them(monkeypatch, device) -> None:
    """The inductor options that made the compiled 112 px step's memory-bound kernels twice as fast on
    the CPU are passed to every CPU compile, and only there."""
    monkeypatch.setattr(recipe_module, "_compiled_architecture", None)
    calls = []
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: calls.append(kwargs) or model)
    recipe = dataclasses.replace(choose_recipe(CONFIG_FOR_COMPILE, "cpu"), device=torch.device(device))
    training_forward(torch.nn.Linear(2, 2), dataclasses.replace(recipe, compile_from_steps=0), steps=1)
    assert calls == [
        {"dynamic": False, "options": recipe_module.CPU_INDUCTOR_OPTIONS if device == "cpu" else None}
    ]


@pytest.mark.parametrize(
    ("profile", "precision", "expected"),
    [
        ("full", "auto", AUTO_COMPILE_FROM_STEPS),  # 112 px in bf16: 1.39x eager on an H200
        ("cpu", "auto", None),  # small: launch-bound, 0.99x
        ("full", "fp32", None),  # not measured
    ],
)
def test_auto_compiles_cuda_bf16_trainings_of_models_that_are_not_small(
    monkeypatch, profile: str, precision: str, expected
) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    config = get_config("ckplus-paper", profile=profile, overrides={"train.precision": precision})
    assert choose_recipe(config, "cuda").compile_from_steps == expected


@pytest.mark.slow
def test_compiled_training_compiles_once_for_all_folds_and_tracks_eager() -> None:
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    config = get_config("ckplus-paper", profile="tiny", overrides={"train.epochs": 1, "train.batch_size": 4})
    # bf16 (emulated where the CPU lacks it): the model's padded convs take their explicit-padding path
    eager = Recipe(torch.device("cpu"), torch.bfloat16, channels_last=True, fused_optimizer=True)
    compiled = dataclasses.replace(eager, compile_from_steps=0)
    generator = torch.Generator().manual_seed(1)
    clips = torch.randint(0, 256, (11, 1, 10, 32, 32), dtype=torch.uint8, generator=generator)
    # balanced epochs of 9 clips (batches 4, 4, 1: the lone clip is skipped) and, for the second
    # fold's labels, 15 (4, 4, 4, 3: a short last batch, which must not cost a compile of its own)
    folds = {"even": np.array([0, 1, 2, 0, 1, 2, 0, 1]), "short_last": np.array([0] * 5 + [1] * 3 + [2] * 3)}

    def fold_losses(recipe, fold="even") -> list[float]:  # a new model per fold, as cross-validation does
        torch.manual_seed(0)
        model = build_model(config, 3, 1)
        labels = folds[fold]
        return fit(model, clips[: len(labels)], labels, config, recipe, num_classes=3, seed=0).epoch_losses

    try:
        want = fold_losses(eager)
        before = counters["stats"]["unique_graphs"]
        first = fold_losses(compiled)
        graphs = counters["stats"]["unique_graphs"] - before
        assert graphs >= 1  # it did compile
        assert fold_losses(compiled) == first and fold_losses(compiled) == first  # same seed, same result
        assert np.isfinite(fold_losses(compiled, "short_last")).all()
        assert counters["stats"]["unique_graphs"] - before == graphs  # later folds reused the graph
        # rounding and the compiled dropout's own random stream
        np.testing.assert_allclose(first, want, rtol=0.02)
    finally:
        torch._dynamo.reset()


def test_a_new_architecture_drops_the_previous_graphs(monkeypatch) -> None:
    # a search worker trains one architecture after another; dynamo stops compiling after 8 graphs
    resets = []
    monkeypatch.setattr(torch._dynamo, "reset", lambda: resets.append(1))
    monkeypatch.setattr(recipe_module, "_compiled_architecture", None)
    recipe = Recipe(torch.device("cpu"), torch.bfloat16, channels_last=True, compile_from_steps=0)
    first, same, other = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 3)
    training_forward(first, recipe, steps=1)
    training_forward(same, recipe, steps=1)  # the next fold of the same trial keeps the graph
    assert len(resets) == 1
    training_forward(other, recipe, steps=1)
    assert len(resets) == 2


def test_amx_is_read_from_the_cpu_flags(tmp_path) -> None:
    with_amx, without = tmp_path / "amx", tmp_path / "no-amx"
    with_amx.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n")
    assert recipe_module.cpu_has_amx_bf16(str(with_amx))
    assert not recipe_module.cpu_has_amx_bf16(str(without))
    assert not recipe_module.cpu_has_amx_bf16(str(tmp_path / "absent"))


def test_cpu_recipe_uses_channels_last_and_fused_adam_unlike_the_plain_baseline() -> None:
    recipe = choose_recipe(get_config("ckplus-paper", profile="tiny"), "cpu")
    assert recipe.channels_last and recipe.fused_optimizer
    plain = plain_recipe()
    assert not plain.channels_last and not plain.fused_optimizer and plain.autocast_dtype is None


def test_torch_flags_hold_only_inside_the_block(monkeypatch) -> None:
    """The library leaves global switches as it found them: cuDNN autotuning and dynamo's fallback."""
    cpu = choose_recipe(get_config("ckplus-paper", profile="tiny"), "cpu")
    cuda = dataclasses.replace(cpu, device=torch.device("cuda"), compile_from_steps=0)
    for before in (False, True):
        monkeypatch.setattr(torch.backends.cudnn, "benchmark", before)
        suppress = torch._dynamo.config.suppress_errors
        with cuda.torch_flags():
            assert torch.backends.cudnn.benchmark and torch._dynamo.config.suppress_errors
        with cpu.torch_flags():
            assert torch.backends.cudnn.benchmark == before
        assert torch.backends.cudnn.benchmark == before
        assert torch._dynamo.config.suppress_errors == suppress


def test_fit_leaves_threads_alone_and_swaps_no_conv_class() -> None:
    """fit changes no process-wide setting, and the model it trains keeps its classes throughout."""
    config = get_config(
        "ckplus-paper", profile="tiny", overrides={"train.epochs": 1, "train.precision": "bf16"}
    )
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    model = build_model(config, 3, 1)
    before = [type(m) for m in model.modules()]
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append([type(x) for x in m.modules()]))
    clips = torch.randint(0, 256, (6, 1, 10, 32, 32), dtype=torch.uint8)
    recipe = choose_recipe(config, "cpu")
    fit(model, clips, np.array([0, 1, 2] * 2), config, recipe, num_classes=3, seed=0)
    assert torch.get_num_threads() == threads
    assert seen and all(types == before for types in seen)


def test_bf16_training_is_exactly_reproducible_on_cpu() -> None:
    # Without the explicit padding, oneDNN's bf16 weight gradient at T=2 reads uninitialised memory.
    config = get_config(
        "ckplus-paper", profile="tiny", overrides={"train.epochs": 1, "train.precision": "bf16"}
    )
    clips = torch.randint(
        0, 256, (12, 1, 10, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )
    labels = np.array([0, 1, 2] * 4)

    def loss() -> float:
        torch.manual_seed(0)
        model = build_model(config, 3, 1)
        return fit(
            model, clips, labels, config, choose_recipe(config, "cpu"), num_classes=3, seed=0
        ).epoch_losses[0]

    assert loss() == loss()


def test_batches_are_prepared_in_chunks_on_cuda_and_one_at_a_time_on_cpu() -> None:
    config = get_config("ckplus-paper", profile="cpu")
    assert choose_recipe(config, "cuda").data_chunk_bytes == CUDA_DATA_CHUNK_BYTES
    assert choose_recipe(config, "cpu").data_chunk_bytes is None
