"""Clip classifiers for prediction: the same inputs as training, run by PyTorch or by onnxruntime.

Both take uint8 crops exactly as ``prepare`` caches them and return class probabilities. The ONNX
graph holds the normalisation and the softmax, so the onnxruntime path needs neither torch nor the
training code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from fer3d.data.prepare import apply_clahe
from fer3d.inference.model_dir import ModelFolderError, ModelInfo, read_model_info

INPUT_NAME = "clips"
OUTPUT_NAME = "probabilities"


class ClipClassifier(Protocol):
    info: ModelInfo

    def predict(self, clips: np.ndarray) -> np.ndarray:
        """uint8 ``[B, C, T, S, S]`` model-input clips -> float32 probabilities ``[B, K]``."""
        ...


def frame_input(crop: np.ndarray, info: ModelInfo) -> np.ndarray:
    """One aligned crop as ``prepare`` caches it (uint8 ``[P, P]`` or ``[P, P, 3]``, P the prepare size)
    -> the model's view of it: CLAHE when the config uses it (on the crop, as in the cache), then an area
    resize to the model's input size (as ``load_clips``). Done once per frame, not once per window."""
    prep, config = info.preprocess, info.config.input
    if config.clahe:
        crop = apply_clahe(crop[None], prep.clahe_clip_limit, prep.clahe_grid)[0]
    if crop.shape[0] != config.size:
        crop = resize_like_training(crop, config.size)
    return crop


@lru_cache(maxsize=8)
def _area_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Row i averages input cells [floor(i*n/m), ceil((i+1)*n/m)): torch's ``area`` (adaptive average)."""
    matrix = np.zeros((size_out, size_in), dtype=np.float32)
    for i in range(size_out):
        start, end = (i * size_in) // size_out, -(-((i + 1) * size_in) // size_out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def resize_like_training(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square uint8 crop as ``fer3d.training.inputs.resize_clips`` does, without torch: area
    averaging when shrinking, bilinear (half-pixel centres, as torch) when enlarging."""
    if size >= image.shape[0]:
        return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    a = _area_matrix(image.shape[0], size)
    img = image.astype(np.float32)
    out = np.einsum("ij,jk...,lk->il...", a, img, a) if img.ndim == 3 else a @ img @ a.T
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def clip_input(frames: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """``T`` outputs of :func:`frame_input` -> one model-input clip, uint8 ``[C, T, S, S]``."""
    clip = np.stack(frames)
    return clip[None] if clip.ndim == 3 else clip.transpose(3, 0, 1, 2)


def model_input(crops: np.ndarray, info: ModelInfo) -> np.ndarray:
    """Cached-style crops ``[T, P, P(, 3)]`` -> one model-input clip ``[C, T, S, S]``."""
    return clip_input([frame_input(c, info) for c in crops])


def probability_head(path: str | Path):  # -> tuple[ProbabilityHead, ModelInfo], torch imported lazily
    """The folder's model(s) wrapped as prediction runs them: every ensemble member, and the mirror
    test-time augmentation when its config has ``test.mirror``."""
    from fer3d.inference.head import ProbabilityHead
    from fer3d.inference.model_dir import load_members

    models, info = load_members(path)
    head = ProbabilityHead(models, info.config.input.normalize, mirror=info.config.test.mirror)
    return head.eval(), info


class TorchClassifier:
    """The model folder's weights run by PyTorch (CPU unless ``device`` says otherwise); an ensemble's
    members are averaged and the mirror test-time augmentation applied as the config says."""

    def __init__(self, path: str | Path, *, device: str | None = None) -> None:
        import torch

        head, self.info = probability_head(path)
        self.device = torch.device(device or "cpu")
        self.module = head.to(self.device).eval()

    def predict(self, clips: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(clips)).to(self.device).float().div_(255.0)
            return self.module(batch).float().cpu().numpy()


class OnnxClassifier:
    """``model.onnx`` of a model folder run by onnxruntime alone (no torch import)."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.info = read_model_info(path)
        onnx_path = self.info.onnx_path
        if not onnx_path.is_file():
            raise ModelFolderError(onnx_path, "missing", f"run `fer3d export {self.info.path} --onnx` first")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own unexported exception types
            raise ModelFolderError(
                onnx_path, f"onnxruntime cannot load it ({err})", "export it again"
            ) from None

    def predict(self, clips: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(clips, dtype=np.float32) / np.float32(255.0)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]


def load_classifier(path: str | Path, *, onnx: bool = False, device: str | None = None) -> ClipClassifier:
    return OnnxClassifier(path) if onnx else TorchClassifier(path, device=device)
