"""ONNX export of a model folder, checked against PyTorch before it is kept."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from fer3d.atomic import atomic_file
from fer3d.inference.classifier import (
    INPUT_NAME,
    OUTPUT_NAME,
    OnnxClassifier,
    TorchClassifier,
    probability_head,
)

PARITY_TOLERANCE = 1e-4
OPSET = 17


def export_onnx(model_dir: str | Path, *, check_clips: int = 4, seed: int = 0) -> tuple[Path, float]:
    """Write ``MODEL_DIR/model.onnx``: float ``[B, C, T, S, S]`` clips in [0, 1] -> probabilities ``[B, K]``.

    The graph does what :class:`TorchClassifier` does: every member of an ensemble and, with
    ``test.mirror``, each clip and its mirror, their probabilities averaged inside the graph. The export
    is kept only if onnxruntime's probabilities match PyTorch's within ``PARITY_TOLERANCE`` on
    ``check_clips`` random clips; returns the path and the largest absolute difference seen.
    """
    head, info = probability_head(model_dir)
    size, frames = info.config.input.size, info.config.input.frames
    example = torch.rand(2, info.in_channels, frames, size, size)
    target = info.onnx_path
    with atomic_file(target) as tmp, warnings.catch_warnings():
        # The TorchScript-based exporter is the one that needs no extra package (onnxscript); torch warns
        # that it is legacy, which is not the user's concern.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            head,
            (example,),
            str(tmp),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
        )
    try:
        difference = onnx_parity(info.path, check_clips=check_clips, seed=seed)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if difference > PARITY_TOLERANCE:
        target.unlink(missing_ok=True)
        raise RuntimeError(
            f"ONNX export differs from PyTorch by {difference:.2e} (> {PARITY_TOLERANCE}); not kept"
        )
    return target, difference


def onnx_parity(model_dir: str | Path, *, check_clips: int = 4, seed: int = 0) -> float:
    """Largest absolute probability difference between PyTorch and onnxruntime on seeded random clips."""
    torch_clf, onnx_clf = TorchClassifier(model_dir), OnnxClassifier(model_dir)
    info = torch_clf.info
    shape = (check_clips, info.in_channels, info.frames, info.config.input.size, info.config.input.size)
    clips = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    return float(np.abs(torch_clf.predict(clips) - onnx_clf.predict(clips)).max())
