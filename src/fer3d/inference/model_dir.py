"""The model folder: everything ``predict`` needs, readable without unpickling anything.

Layout::

    fer3d-model.json    marker: format name and version, class count, input channels, training record
    model.safetensors   the state dict (tensors only: loading cannot run code)
    config.json         the full ExperimentConfig
    labels.json         {"class_names": [...]} in output order
    preprocess.json     the PrepareConfig fields (face mode, crop size, colour, margin, frames, CLAHE)
    model.onnx          optional, written by ``fer3d export --onnx``

Reading the JSON files needs neither torch nor safetensors, so the ONNX predictor can run without them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer3d.atomic import atomic_folder, json_marker
from fer3d.config import ConfigError, ExperimentConfig
from fer3d.data.errors import BadInputError
from fer3d.data.prepare import PrepareConfig

if TYPE_CHECKING:
    from torch import nn

FORMAT = "fer3d-model"
FORMAT_VERSION = 1
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
    if marker.get("version") != FORMAT_VERSION:
        raise ModelFolderError(
            path / MARKER,
            f"model folder version {marker.get('version')!r}; this fer3d reads {FORMAT_VERSION}",
        )
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
        path, config, tuple(names), PrepareConfig(**preprocess), in_channels, marker.get("record", {})
    )


def save_model_dir(
    target: str | Path,
    model: nn.Module,
    config: ExperimentConfig,
    class_names: tuple[str, ...] | list[str],
    preprocess: PrepareConfig | dict[str, Any],
    *,
    in_channels: int,
    record: dict[str, Any] | None = None,
) -> Path:
    """Write a model folder atomically (a crash never leaves a folder that looks complete)."""
    from safetensors.torch import save_file

    target = Path(target)
    prep = dataclasses.asdict(preprocess) if isinstance(preprocess, PrepareConfig) else dict(preprocess)
    with atomic_folder(target, is_model_folder, "model folder") as tmp:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        config.to_json(tmp / CONFIG)
        (tmp / LABELS).write_text(json.dumps({"class_names": list(class_names)}, indent=1) + "\n")
        (tmp / PREPROCESS).write_text(json.dumps(prep, indent=1) + "\n")
        marker = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "num_classes": len(class_names),
            "in_channels": in_channels,
            "record": record or {},
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    return target


def load_model(path: str | Path) -> tuple[nn.Module, ModelInfo]:
    """Rebuild the model of a folder in eval mode on the CPU; tensors only, nothing is unpickled."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from fer3d.models import build_model

    info = read_model_info(path)
    weights = info.path / WEIGHTS
    if not weights.is_file():
        raise ModelFolderError(weights, "missing", "the model folder is incomplete; train it again")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFolderError(weights, f"not a readable safetensors file ({err})") from None
    model = build_model(info.config, info.num_classes, info.in_channels)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ModelFolderError(weights, f"weights do not fit the model of config.json ({first})") from None
    return model.eval(), info
