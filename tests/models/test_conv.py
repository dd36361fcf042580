"""The model's Conv3d keeps CPU bf16 autocast off the clip lengths oneDNN's backward gets wrong."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from fer3d.models.conv import TimePaddedConv3d, bf16_conv_unsafe

# oneDNN's AVX512-BF16 kernels (what a CPU without AMX runs) are the ones that crash and give wrong
# gradients; capping the ISA makes an AMX machine run them too, so the layer is tested on either kind.
BUGGY_BF16_ISA = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}

# Every (kt, T) with 1 < T < kt: the bf16 convolution's output and gradients against fp32 (argv[1]: the
# layer class, "padded" or "plain").
GRADIENTS = """
import sys, torch
from fer3d.models.conv import TimePaddedConv3d
layer = TimePaddedConv3d if sys.argv[1] == "padded" else torch.nn.Conv3d
torch.manual_seed(0)
worst = 0.0
for kt in (3, 5, 7, 9):
    for frames in range(2, kt):
        conv = layer(16, 24, (kt, 3, 3), padding=(kt // 2, 1, 1), bias=False)
        x = torch.randn(2, 16, frames, 6, 6)
        upstream = torch.randn(2, 24, frames, 6, 6)
        results = []
        for bf16 in (False, True):
            conv.zero_grad()
            xi = x.clone().requires_grad_(True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = conv(xi)
            (y.float() * upstream).sum().backward()
            results.append((y.float(), xi.grad, conv.weight.grad.clone()))
        for got, want in zip(results[1], results[0]):
            worst = max(worst, ((got - want).abs().max() / want.abs().max()).item())
print(worst)
"""


def _cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@pytest.mark.skipif(not _cpu_has_native_bf16(), reason="no native bf16: the recipe never autocasts to it")
def test_padded_bf16_convs_match_fp32_gradients_where_onednn_gets_them_wrong() -> None:
    for env in ({}, BUGGY_BF16_ISA):
        proc = subprocess.run(  # a subprocess: the unguarded kernels can crash the process
            [sys.executable, "-c", GRADIENTS, "padded"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **env},
        )
        assert proc.returncode == 0, f"{env}: rc {proc.returncode}\n{proc.stderr[-2000:]}"
        # bf16 rounding is about 0.4% of the largest value; the bug gives errors of 100% or NaN
        assert float(proc.stdout.strip()) < 0.02, (env, proc.stdout)


def test_bf16_conv_unsafe_marks_clips_shorter_than_the_kernel() -> None:
    assert bf16_conv_unsafe(3, 2) and bf16_conv_unsafe(9, 5) and bf16_conv_unsafe(7, 4)
    assert not bf16_conv_unsafe(3, 1) and not bf16_conv_unsafe(3, 5) and not bf16_conv_unsafe(1, 2)


def test_short_clips_are_padded_explicitly_under_cpu_autocast_only(monkeypatch) -> None:
    conv = TimePaddedConv3d(4, 4, (3, 3, 3), padding=1)
    short, long = torch.rand(2, 4, 2, 6, 6), torch.rand(2, 4, 5, 6, 6)
    padded = []
    real_pad = torch.nn.functional.pad
    monkeypatch.setattr(torch.nn.functional, "pad", lambda *a, **k: padded.append(1) or real_pad(*a, **k))
    with torch.no_grad():
        want = conv(short)
        assert padded == []  # fp32: the plain convolution
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert conv(long).dtype == torch.bfloat16 and padded == []  # long enough: plain
            got = conv(short)
    assert padded == [1]
    assert got.dtype == torch.bfloat16 and got.shape == want.shape
    torch.testing.assert_close(got.float(), want, rtol=0.02, atol=0.02)


def test_a_padding_that_cannot_help_runs_that_call_in_fp32() -> None:
    conv = TimePaddedConv3d(4, 4, (3, 3, 3), padding=1, padding_mode="replicate")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.rand(2, 4, 2, 6, 6)).dtype == torch.float32


def test_same_parameters_as_a_plain_conv3d() -> None:
    plain = torch.nn.Conv3d(2, 3, (5, 3, 3), padding=(2, 1, 1), bias=False)
    padded = TimePaddedConv3d(2, 3, (5, 3, 3), padding=(2, 1, 1), bias=False)
    padded.load_state_dict(plain.state_dict())  # model folders saved before it load unchanged
    x = torch.rand(1, 2, 4, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(padded(x), plain(x))
