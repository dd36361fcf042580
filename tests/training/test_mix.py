"""Mixup and cutmix of whole clips: one weight and one box per clip, the same on every frame."""

from __future__ import annotations

import pytest
import torch

from fer3d.training.mix import mix_batch

LABELS = torch.tensor([0, 1, 2, 1, 0, 2])


def _inputs() -> torch.Tensor:
    return torch.rand((len(LABELS), 2, 4, 12, 12), generator=torch.Generator().manual_seed(0))


def _mix(mode: str, seed: int = 0, alpha: float = 0.4) -> tuple[torch.Tensor, torch.Tensor]:
    return mix_batch(_inputs(), LABELS, 3, mode, alpha, torch.Generator().manual_seed(seed))  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["mixup", "cutmix"])
def test_same_seed_same_mix_and_another_seed_another(mode: str) -> None:
    first, targets = _mix(mode)
    again, targets_again = _mix(mode)
    other, _ = _mix(mode, seed=1)
    assert torch.equal(first, again) and torch.equal(targets, targets_again)
    assert not torch.equal(first, other)
    assert first.shape == _inputs().shape and targets.shape == (len(LABELS), 3)
    assert torch.allclose(targets.sum(dim=1), torch.ones(len(LABELS)))


def test_none_keeps_the_clips_and_gives_one_hot_targets() -> None:
    mixed, targets = _mix("none")
    assert torch.equal(mixed, _inputs())
    assert torch.equal(targets, torch.nn.functional.one_hot(LABELS, 3).float())


@pytest.mark.parametrize("mode", ["mixup", "cutmix"])
def test_targets_mix_the_labels_in_the_proportions_the_clips_were_mixed(mode: str) -> None:
    # clip i is the constant one-hot of channel i and has label i, so a mixed clip's channel means are
    # exactly the shares of each clip in it, which its soft target must repeat
    n = 6
    inputs = torch.eye(n).view(n, n, 1, 1, 1).expand(n, n, 3, 8, 8).contiguous()
    mixed, targets = mix_batch(inputs, torch.arange(n), n, mode, 1.0, torch.Generator().manual_seed(2))  # type: ignore[arg-type]
    assert torch.allclose(mixed.mean(dim=(2, 3, 4)), targets, atol=1e-6)
    assert (targets.diagonal() < 1).any()  # something was mixed


def test_cutmix_pastes_the_same_box_on_every_frame_and_weights_targets_by_area() -> None:
    inputs = _inputs()
    mixed, targets = _mix("cutmix", alpha=1.0)
    changed = mixed != inputs  # [B, C, T, H, W]
    for i in range(len(LABELS)):
        box = changed[i, 0, 0]
        assert torch.equal(changed[i], box.expand_as(changed[i]))  # one box for every channel and frame
        if box.any():
            rows, cols = box.any(dim=1).nonzero(), box.any(dim=0).nonzero()
            # a rectangle: every pixel inside its bounding rows and columns is pasted
            assert box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        kept = 1 - box.float().mean()
        own = targets[i, LABELS[i]]
        # the own label keeps at least the kept area (more when the partner has the same label)
        assert own >= kept - 1e-6
        assert torch.isclose(targets[i].sum(), torch.tensor(1.0))
    assert changed.any()  # with alpha 1 some clip got a box
