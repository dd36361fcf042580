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
    bf16_conv_unsafe,
    choose_recipe,
    guard_bf16_convs,
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
# gradients; capping the ISA makes an AMX machine run them too, so the guard is tested on either kind.
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


# Every (kt, T) with 1 < T < kt: the guarded bf16 convolution's output and gradients against fp32.
GRADIENTS = """
import itertools, torch
from fer3d.training.recipe import guard_bf16_convs
torch.manual_seed(0)
worst = 0.0
for kt in (3, 5, 7, 9):
    for frames in range(2, kt):
        conv = torch.nn.Conv3d(16, 24, (kt, 3, 3), padding=(kt // 2, 1, 1), bias=False)
        x = torch.randn(2, 16, frames, 6, 6)
        upstream = torch.randn(2, 24, frames, 6, 6)
        results = []
        for bf16 in (False, True):
            conv.zero_grad()
            xi = x.clone().requires_grad_(True)
            with guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = conv(xi)
            (y.float() * upstream).sum().backward()
            results.append((y.float(), xi.grad, conv.weight.grad.clone()))
        for got, want in zip(results[1], results[0]):
            worst = max(worst, ((got - want).abs().max() / want.abs().max()).item())
print(worst)
"""


def test_guarded_bf16_convs_match_fp32_gradients_where_onednn_gets_them_wrong() -> None:
    if not recipe_module.cpu_has_native_bf16():
        pytest.skip("this CPU has no native bf16: the recipe never autocasts to bf16 on it")
    for env in ({}, BUGGY_BF16_ISA):
        proc = subprocess.run(
            [sys.executable, "-c", GRADIENTS],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **env},
        )
        assert proc.returncode == 0, f"{env}: rc {proc.returncode}\n{proc.stderr[-2000:]}"
        # bf16 rounding is about 0.4% of the largest value; the bug gives errors of 100% or NaN
        assert float(proc.stdout.strip()) < 0.02, (env, proc.stdout)


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
    # bf16 (emulated where the CPU lacks it): the guard is active, which is what broke compiling per fold
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


def test_apply_sets_the_thread_count() -> None:
    before = torch.get_num_threads()
    try:
        choose_recipe(get_config("ckplus-paper", profile="tiny"), "cpu", threads=1).apply()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_bf16_conv_unsafe_marks_clips_shorter_than_the_kernel() -> None:
    assert bf16_conv_unsafe(3, 2) and bf16_conv_unsafe(9, 5) and bf16_conv_unsafe(7, 4)
    assert not bf16_conv_unsafe(3, 1) and not bf16_conv_unsafe(3, 5) and not bf16_conv_unsafe(1, 2)


def test_guard_pads_time_explicitly_for_short_clips_and_restores_the_model() -> None:
    conv = torch.nn.Conv3d(4, 4, (3, 3, 3), padding=1)
    short, long = torch.rand(2, 4, 2, 6, 6), torch.rand(2, 4, 5, 6, 6)
    with torch.no_grad():
        want = conv(short)
        with guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16):
            got = conv(short)
            assert conv(long).dtype == torch.bfloat16
    assert got.dtype == torch.bfloat16 and got.shape == want.shape
    torch.testing.assert_close(got.float(), want, rtol=0.02, atol=0.02)
    assert type(conv) is torch.nn.Conv3d


def test_guard_swaps_one_shared_class_and_does_not_nest() -> None:
    # one guarded class per conv class, so torch.compile's guards hold from one fold's model to the next
    first, second = torch.nn.Conv3d(2, 2, 3), torch.nn.Conv3d(2, 2, 3)
    with guard_bf16_convs(first), guard_bf16_convs(second), guard_bf16_convs(first):
        assert type(first) is type(second) is not torch.nn.Conv3d
        assert type(first).__mro__[1] is torch.nn.Conv3d  # the nested guard did not wrap it twice
    assert type(first) is type(second) is torch.nn.Conv3d


def test_guard_falls_back_to_fp32_where_explicit_zeros_do_not_apply() -> None:
    conv = torch.nn.Conv3d(4, 4, (3, 3, 3), padding=1, padding_mode="replicate")
    with torch.no_grad(), guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.rand(2, 4, 2, 6, 6)).dtype == torch.float32


def test_bf16_training_is_exactly_reproducible_on_cpu() -> None:
    # Without the guard, oneDNN's bf16 weight gradient at T=2 reads uninitialised memory: losses differ.
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
