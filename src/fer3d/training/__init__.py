"""Training: a task-agnostic loop over uint8 clip tensors, batched augmentation, per-device recipe."""

from fer3d.training.trainer import FitResult, fit, predict_proba

__all__ = ["FitResult", "fit", "predict_proba"]
