"""The module that prediction and ONNX export run: float clips in [0, 1] -> class probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fer3d.training.inputs import normalize


class ProbabilityHead(nn.Module):
    """Wraps one classifier or an ensemble's members with the per-clip normalisation of their config,
    a softmax and the test-time averaging of ``config.test``.

    Input float ``[B, C, T, S, S]`` in [0, 1]; output ``[B, K]``: the mean over members (and, with
    ``mirror``, over each clip and its horizontal mirror) of the softmax probabilities, as
    ``training.predict_proba`` and cross-validation compute them.
    """

    def __init__(
        self, model: nn.Module | Sequence[nn.Module], normalize_clips: bool, *, mirror: bool = False
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(list(model) if isinstance(model, Sequence) else [model])
        self.normalize_clips = normalize_clips
        self.mirror = mirror

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch = normalize(clips, self.normalize_clips)
        if self.mirror:  # one pass over the clips and their mirrors; per-clip normalisation commutes
            batch = torch.cat([batch, batch.flip(-1)])
        probs = torch.stack([torch.softmax(member(batch), dim=1) for member in self.members]).mean(0)
        if self.mirror:
            n = clips.shape[0]  # slices, not chunk: the ONNX graph keeps a dynamic batch size
            probs = (probs[:n] + probs[n:]) / 2
        return probs
