"""The glibc allocator fix keeps freed activation memory mapped instead of returning it every step."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fer3d.training.allocator import tune_allocator

# Allocate, touch and free 256 MB the way a training step does; report resident memory (MB) after the free.
PROBE = """
import sys, torch
from fer3d.training.allocator import tune_allocator
if sys.argv[1] == "tuned":
    assert tune_allocator()
x = torch.ones(64 * 1024 * 1024)
del x
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) // 1024)
"""


def _rss_after_free(mode: str) -> int:
    proc = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_freed_blocks_stay_mapped_only_with_the_fix() -> None:
    assert _rss_after_free("tuned") - _rss_after_free("default") > 200


def test_tune_allocator_is_idempotent() -> None:
    assert tune_allocator() == tune_allocator()
