"""The model folder: everything ``predict`` needs, readable without unpickling anything.

Layout::

    fer3d-model.json    marker: format name and version, class count, input channels, training record
    model.safetensors   the state dict (tensors only: loading cannot run code); an ensemble of N
                        models (``test.ensemble``) holds each member's tensors under ``member{i}.``
    config.json         the full ExperimentConfig
    labels.json         {"class_names": [...]} in output order
    preprocess.json     the PrepareConfig fields (face mode, crop size, colour, margin, frames, CLAHE)
    model.onnx          optional, written by ``fer3d export --onnx``

Reading the JSON files needs neither torch nor safetensors, so the ONNX predictor can run without them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer3d.atomic import atomic_folder, json_marker
from fer3d.config import ConfigError, ExperimentConfig
from fer3d.data.errors import BadInputError
from fer3d.data.prepare import PrepareConfig

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMAT = "fer3d-model"
FORMAT_VERSION = 1  # one model; an ensemble folder is written as version 2, so older readers refuse it
ENSEMBLE_VERSION = 2
READABLE_VERSIONS = (FORMAT_VERSION, ENSEMBLE_VERSION)
MARKER = "fer3d-model.json"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
LABELS = "labels.json"
PREPROCESS = "preprocess.json"
ONNX = "model.onnx"


class ModelFolderError(BadInputError):
    """A model folder is missing, foreign or corrupt; the message names the file."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model folder says about its model (everything but the weights)."""

    path: Path
    config: ExperimentConfig
    class_names: tuple[str, ...]
    preprocess: PrepareConfig
    in_channels: int
    record: dict[str, Any]
    members: int = 1  # models whose probabilities are averaged (an ensemble when more than one)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def frames(self) -> int:
        return self.config.input.frames

    @property
    def onnx_path(self) -> Path:
        return self.path / ONNX


#: What `save_model_dir` may replace: a folder holding a model marker.
is_model_folder = json_marker(MARKER, "format")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelFolderError(path, "missing", "is this a folder written by `fer3d train`?")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFolderError(
            path, f"not valid JSON ({err})", "the model folder is corrupt; train it again"
        ) from None


def read_model_info(path: str | Path) -> ModelInfo:
    """Read and check a model folder's JSON files (no weights, no torch)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(path, "model folder does not exist", "create one with `fer3d train`")
    marker = _read_json(path / MARKER)
    if not isinstance(marker, dict) or marker.get("format") != FORMAT:
        raise ModelFolderError(path / MARKER, f"not a fer3d model marker (format is not {FORMAT!r})")
    if marker.get("version") not in READABLE_VERSIONS:
        raise ModelFolderError(
            path / MARKER,
            f"model folder version {marker.get('version')!r}; this fer3d reads "
            f"{' and '.join(map(str, READABLE_VERSIONS))}",
            "upgrade fer3d or train the model again",
        )
    members = marker.get("members", 1)
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise ModelFolderError(path / MARKER, f"members must be a positive integer, got {members!r}")
    try:
        config = ExperimentConfig.from_dict(_read_json(path / CONFIG))
    except ConfigError as err:
        raise ModelFolderError(path / CONFIG, f"invalid experiment config: {err}") from None
    labels = _read_json(path / LABELS)
    names = labels.get("class_names") if isinstance(labels, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelFolderError(path / LABELS, 'expected {"class_names": ["...", ...]}')
    preprocess = _read_json(path / PREPROCESS)
    known = {f.name for f in dataclasses.fields(PrepareConfig)}
    if not isinstance(preprocess, dict) or set(preprocess) - known:
        raise ModelFolderError(path / PREPROCESS, f"expected an object with keys among {sorted(known)}")
    in_channels = marker.get("in_channels")
    if in_channels not in (1, 3) or marker.get("num_classes") != len(names):
        raise ModelFolderError(
            path / MARKER, "in_channels or num_classes missing or inconsistent with labels.json"
        )
    return ModelInfo(
        path,
        config,
        tuple(names),
        PrepareConfig(**preprocess),
        in_channels,
        marker.get("record", {}),
        members,
    )


def save_model_dir(
    target: str | Path,
    model: nn.Module | Sequence[nn.Module],
    config: ExperimentConfig,
    class_names: tuple[str, ...] | list[str],
    preprocess: PrepareConfig | dict[str, Any],
    *,
    in_channels: int,
    record: dict[str, Any] | None = None,
) -> Path:
    """Write a model folder atomically (a crash never leaves a folder that looks complete).

    ``model`` is one model or the members of an ensemble (saved under ``member{i}.`` key prefixes)."""
    from safetensors.torch import save_file

    target = Path(target)
    prep = dataclasses.asdict(preprocess) if isinstance(preprocess, PrepareConfig) else dict(preprocess)
    with atomic_folder(target, is_model_folder, "model folder") as tmp:
        members = list(model) if isinstance(model, Sequence) else [model]
        state = {
            f"{_prefix(i, len(members))}{k}": v.detach().cpu().contiguous()
            for i, member in enumerate(members)
            for k, v in member.state_dict().items()
        }
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        config.to_json(tmp / CONFIG)
        (tmp / LABELS).write_text(json.dumps({"class_names": list(class_names)}, indent=1) + "\n")
        (tmp / PREPROCESS).write_text(json.dumps(prep, indent=1) + "\n")
        marker = {
            "format": FORMAT,
            "version": FORMAT_VERSION if len(members) == 1 else ENSEMBLE_VERSION,
            "num_classes": len(class_names),
            "in_channels": in_channels,
            **({"members": len(members)} if len(members) > 1 else {}),
            "record": record or {},
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    return target


def _prefix(member: int, members: int) -> str:
    return f"member{member}." if members > 1 else ""


def read_member_states(info: ModelInfo) -> list[dict[str, torch.Tensor]]:
    """The state dict of every member of the folder (one for a single model); tensors only."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = info.path / WEIGHTS
    if not weights.is_file():
        raise ModelFolderError(weights, "missing", "the model folder is incomplete; train it again")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFolderError(weights, f"not a readable safetensors file ({err})") from None
    if info.members == 1:
        return [state]
    states: list[dict[str, torch.Tensor]] = [{} for _ in range(info.members)]
    for key, value in state.items():
        head, _, rest = key.partition(".")
        index = head.removeprefix("member")
        if not (head.startswith("member") and index.isdigit() and int(index) < info.members and rest):
            raise ModelFolderError(
                weights, f"key {key!r} is not member0..member{info.members - 1} of the ensemble"
            )
        states[int(index)][rest] = value
    return states


def load_members(path: str | Path) -> tuple[list[nn.Module], ModelInfo]:
    """Rebuild every model of a folder (one, or an ensemble's members) in eval mode on the CPU; tensors
    only, nothing is unpickled."""
    from fer3d.models import build_model

    info = read_model_info(path)
    models = []
    for member, state in enumerate(read_member_states(info)):
        model = build_model(info.config, info.num_classes, info.in_channels)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            where = f"member {member}'s weights" if info.members > 1 else "weights"
            raise ModelFolderError(
                info.path / WEIGHTS, f"{where} do not fit the model of config.json ({first})"
            ) from None
        models.append(model.eval())
    return models, info


def load_model(path: str | Path) -> tuple[nn.Module, ModelInfo]:
    """Rebuild the model of a single-model folder (see :func:`load_members` for ensembles)."""
    models, info = load_members(path)
    if len(models) > 1:
        raise ModelFolderError(
            info.path / MARKER, f"holds an ensemble of {len(models)} models", "load it with load_members"
        )
    return models[0], info
