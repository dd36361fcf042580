"""fer3d: facial emotion recognition in videos with an automatically tuned 3D-CNN."""

__version__ = "0.1.0"
