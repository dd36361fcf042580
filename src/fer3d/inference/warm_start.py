"""Start training from a model folder's weights (``--init MODEL_DIR``) instead of a fresh initialisation.

Every weight is copied except the classifier head's rows: a class that has the same (canonical) name in
the folder and in the data keeps its row (``evaluation.head_transfer``, as a transfer maps its head);
every other row keeps its fresh initialisation, so with other classes the head starts anew. Ensemble
member ``i`` starts from the folder's member ``i mod M``. The weights must fit: the same layer shapes
(input size and frames, width, kernels, blocks, PReLU, colour channels); a mismatch is a
:class:`~fer3d.inference.model_dir.ModelFolderError` that names the weights file and the fields.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer3d.config import ExperimentConfig
from fer3d.evaluation.head_transfer import head_map, transfer_weights
from fer3d.inference.model_dir import WEIGHTS, ModelFolderError, read_member_states, read_model_info
from fer3d.models import build_model
from fer3d.training.members import InitFn

# The config fields that can change the shapes of the weights (named in the error; a search with --init
# keeps them at the folder's values). Every other field may differ freely.
ARCHITECTURE_FIELDS = (
    "input.size",
    "input.frames",
    "model.width",
    "model.temporal_kernel",
    "model.extra_block",
    "model.activation",  # prelu has weights
    "model.temporal_head",
)


def _field(config: ExperimentConfig, dotted: str) -> Any:
    section, name = dotted.split(".")
    return getattr(getattr(config, section), name)


@dataclass(frozen=True)
class WarmStart:
    """The weights of a model folder to start every trained model from. Picklable (a path and names):
    fold worker processes read the weights themselves."""

    path: Path
    class_names: tuple[str, ...]
    config: ExperimentConfig
    in_channels: int
    members: int
    weights_sha256: str

    @classmethod
    def from_model_dir(cls, path: str | Path) -> WarmStart:
        """Read and check a model folder (its JSON files and weights) without building a model."""
        info = read_model_info(path)
        weights = info.path / WEIGHTS
        if not weights.is_file():
            raise ModelFolderError(weights, "missing", "the model folder is incomplete; train it again")
        digest = hashlib.sha256()
        with weights.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return cls(
            info.path, info.class_names, info.config, info.in_channels, info.members, digest.hexdigest()
        )

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS

    def architecture(self) -> dict[str, Any]:
        """The folder's values of the fields that can shape the weights (a search keeps them)."""
        return {name: _field(self.config, name) for name in ARCHITECTURE_FIELDS}

    def describe(self) -> dict[str, Any]:
        """What run headers record, so a run started from other weights is never resumed from this one."""
        return {"model_dir": str(self.path), "weights_sha256": self.weights_sha256}

    def check_fits(self, config: ExperimentConfig, in_channels: int) -> None:
        """Raise :class:`ModelFolderError` unless the folder's weights fit the model of ``config``: the
        same weight names and shapes outside the classifier head (built on the meta device: no memory)."""
        with torch.device("meta"):
            theirs = build_model(self.config, 2, self.in_channels).state_dict()
            ours = build_model(config, 2, in_channels).state_dict()
        if {k: v.shape for k, v in theirs.items()} == {k: v.shape for k, v in ours.items()}:
            return
        differs = [
            f"{name} {_field(self.config, name)!r} there, {_field(config, name)!r} here"
            for name in ARCHITECTURE_FIELDS
            if _field(self.config, name) != _field(config, name)
        ]
        if in_channels != self.in_channels:
            differs.append(f"colour channels {self.in_channels} there, {in_channels} here")
        raise ModelFolderError(
            self.weights_path,
            "these weights do not fit the model of this run: " + ("; ".join(differs) or "other layer shapes"),
            f"use the folder's architecture (--config {self.path / 'config.json'}, or --set the fields "
            "above to its values), or another --init folder",
        )

    def init_fn(self, class_names: tuple[str, ...]) -> InitFn:
        """What ``training.members.train_members`` calls on each fresh model; picklable."""
        return partial(self.apply, class_names=tuple(class_names))

    def apply(self, model: nn.Module, member: int, *, class_names: tuple[str, ...]) -> None:
        """Copy the weights of the folder's member ``member mod M`` into ``model`` (whose classes are
        ``class_names``); head rows of classes the folder lacks keep their fresh initialisation."""
        info = read_model_info(self.path)
        states = read_member_states(info)
        try:
            transfer_weights(states[member % len(states)], model, head_map(self.class_names, class_names))
        except ValueError as err:
            raise ModelFolderError(
                self.weights_path, f"these weights do not fit the model of this run ({err})"
            ) from None
