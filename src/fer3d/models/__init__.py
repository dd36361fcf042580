"""Models: pure ``nn.Module``s configured by dataclasses; no I/O, no device choice."""

from fer3d.models.c3d import C3D
from fer3d.models.factory import build_model

__all__ = ["C3D", "build_model"]
