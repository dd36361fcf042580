"""Inference: train a final model, save/load model folders, predict emotion over time, export ONNX.

Importing this package does not import torch: the ONNX predictor runs with onnxruntime alone.
"""

from fer3d.inference.model_dir import ModelFolderError, ModelInfo, read_model_info, save_model_dir
from fer3d.inference.predict import PredictOptions, predict_camera, predict_source, predict_video
from fer3d.inference.results import PredictionResult, WindowResult

__all__ = [
    "ModelFolderError",
    "ModelInfo",
    "PredictOptions",
    "PredictionResult",
    "WindowResult",
    "predict_camera",
    "predict_source",
    "predict_video",
    "read_model_info",
    "save_model_dir",
]
