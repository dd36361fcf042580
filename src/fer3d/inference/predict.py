"""Emotion over time in a video: faces per frame, a sliding window per face, probabilities per window.

The face pipeline is ``prepare``'s (same detector, alignment, crop size, colour and CLAHE), so the model
sees what it was trained on. Windows of ``T`` frames (the model's clip length) end every ``stride``
frames; a window gets probabilities only when its face was found in all ``T`` frames, and is marked
``no_face`` otherwise; a classified window whose top probability is below ``min_confidence`` is marked
uncertain (shown as ``"uncertain"`` in the tables, timeline and video). Windows are classified in
batches; the annotated video is written as soon as the windows that its frames show are known, so memory
stays bounded on long videos and cameras.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fer3d.atomic import atomic_folder, claim_output_folder, has_entry
from fer3d.data.errors import BadInputError
from fer3d.inference.classifier import ClipClassifier, clip_input, frame_input, load_classifier
from fer3d.inference.frame_sources import FrameSource, camera_source, video_source
from fer3d.inference.outputs import (
    ANNOTATED_MP4,
    TIMELINE_PNG,
    WINDOWS_JSON,
    VideoAnnotator,
    plot_timeline,
    write_tables,
)
from fer3d.inference.results import NO_FACE, OK, FrameRecord, PredictionResult, WindowResult
from fer3d.inference.smoothing import Smoother, SmoothMode
from fer3d.inference.tracking import DlibFaceTracker, FaceObservation, WholeFrameTracker


@dataclass(frozen=True)
class PredictOptions:
    stride: int = 2  # a window ends every other frame: 12.5 predictions/s at 25 fps, half the model cost
    smooth: SmoothMode = "none"
    smooth_window: int = 5
    all_faces: bool = False
    faces: str | None = None  # None: the model's own face mode (preprocess.json)
    batch_size: int = 16  # windows classified together
    annotate: bool = True  # write the annotated MP4
    timeline: bool = True
    progress: bool = True
    min_confidence: float = 0.0  # below this top probability a window is shown as uncertain (0: never)

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"stride must be at least 1, got {self.stride}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.faces not in (None, "dlib", "none"):
            raise ValueError(f"faces must be dlib or none, got {self.faces!r}")


@dataclass
class _TrackState:
    crops: deque = field(default_factory=deque)  # consecutive model-input crops, newest last
    present: deque = field(default_factory=deque)  # face found in each of the last T frames
    last_seen: int = -1


class WindowPredictor:
    """Streams frames in, emits :class:`WindowResult` rows (classified in batches) and annotated frames."""

    def __init__(
        self,
        classifier: ClipClassifier,
        options: PredictOptions,
        *,
        fps: float,
        annotator: VideoAnnotator | None = None,
    ) -> None:
        info = classifier.info
        self.classifier, self.options, self.info, self.annotator = classifier, options, info, annotator
        self.T = info.frames
        prep = info.preprocess
        self.face_mode = options.faces or prep.faces
        self.color = prep.color
        if self.face_mode == "dlib":
            self.tracker = DlibFaceTracker(prep.size, prep.margin, prep.upsample, all_faces=options.all_faces)
        else:
            self.tracker = WholeFrameTracker(prep.size)
        self.fps = fps
        self.states: dict[int, _TrackState] = {}
        self.smoothers: dict[int, Smoother] = {}
        self.times: deque[float] = deque(maxlen=self.T)
        self.pending: list[tuple[WindowResult, np.ndarray | None]] = []
        self.buffered: list[tuple[int, np.ndarray, dict]] = []  # frames waiting for their windows
        self.resolved: deque[WindowResult] = deque()
        self.latest: dict[int, WindowResult] = {}
        self.windows: list[WindowResult] = []
        self.frames: list[FrameRecord] = []

    def push(self, index: int, timestamp: float, rgb: np.ndarray) -> None:
        frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if self.color == "gray" else rgb
        faces: dict[int, FaceObservation] = self.tracker.update(frame)
        self.frames.append(FrameRecord(index, timestamp, {t: f.box for t, f in faces.items()}))
        self.times.append(timestamp)
        for tid, face in faces.items():
            state = self.states.setdefault(tid, _TrackState(deque(maxlen=self.T), deque(maxlen=self.T)))
            state.crops.append(frame_input(face.crop, self.info))
            state.last_seen = index
        for tid, state in self.states.items():
            if tid not in faces:
                state.crops.clear()  # a window must be a run of frames that all show the face
            state.present.append(tid in faces)
        if index >= self.T - 1 and (index - (self.T - 1)) % self.options.stride == 0:
            self._emit(index)
        if self.annotator is not None:
            self.buffered.append((index, rgb, {t: f.box for t, f in faces.items()}))
        if (
            len([p for p in self.pending if p[1] is not None]) >= self.options.batch_size
            or len(self.buffered) >= 64
        ):
            self.flush()

    def _emit(self, end: int) -> None:
        start = end - self.T + 1
        emitted = False
        for tid, state in sorted(self.states.items()):
            if state.last_seen < start:
                continue  # not seen in this window at all
            faces = int(sum(state.present))
            if len(state.crops) == self.T:
                clip = clip_input(list(state.crops))
                self.pending.append(
                    (WindowResult(tid, start, end, self.times[0], self.times[-1], OK, faces), clip)
                )
            else:
                self.pending.append(
                    (WindowResult(tid, start, end, self.times[0], self.times[-1], NO_FACE, faces), None)
                )
            emitted = True
        if not emitted:
            self.pending.append(
                (WindowResult(None, start, end, self.times[0], self.times[-1], NO_FACE, 0), None)
            )
        for tid in [t for t, s in self.states.items() if s.last_seen < start]:
            del self.states[tid]  # gone for a whole window: its track is over

    def flush(self) -> None:
        clips = [clip for _, clip in self.pending if clip is not None]
        probs = iter(self.classifier.predict(np.stack(clips)) if clips else [])
        for window, clip in self.pending:
            smoother = self.smoothers.setdefault(
                window.track if window.track is not None else -1,
                Smoother(self.options.smooth, self.options.smooth_window),
            )
            if clip is None:
                smoother.reset()  # nothing is carried across a stretch without the face
            else:
                window.raw = np.asarray(next(probs), dtype=np.float64)
                window.smoothed = smoother(window.raw)
                window.uncertain = float(np.max(window.smoothed)) < self.options.min_confidence
            self.windows.append(window)
            if self.annotator is not None:
                self.resolved.append(window)
        self.pending.clear()
        self._annotate()

    def _annotate(self) -> None:
        if self.annotator is None:
            return
        for index, rgb, boxes in self.buffered:
            while self.resolved and self.resolved[0].end_frame <= index:
                window = self.resolved.popleft()
                if window.track is None:
                    continue
                if window.status == OK:
                    self.latest[window.track] = window
                else:
                    self.latest.pop(window.track, None)
            self.annotator.write(rgb, boxes, self.latest)
        self.buffered.clear()


def predict_source(
    source: FrameSource,
    model_dir: str | Path,
    out_dir: str | Path | None,
    options: PredictOptions = PredictOptions(),
    *,
    onnx: bool = False,
    classifier: ClipClassifier | None = None,
) -> PredictionResult:
    """Run prediction over ``source``; with ``out_dir``, write the tables, timeline and annotated video."""
    classifier = classifier or load_classifier(model_dir, onnx=onnx)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        claim_output_folder(out, has_entry(WINDOWS_JSON, ANNOTATED_MP4), "prediction folder")
    annotator = (
        VideoAnnotator(out / ANNOTATED_MP4, source.fps, classifier.info.class_names)
        if out and options.annotate
        else None
    )
    predictor = WindowPredictor(classifier, options, fps=source.fps, annotator=annotator)
    start = time.perf_counter()
    bar = tqdm(
        source.frames, total=source.frame_count, desc="predict", unit="frame", disable=not options.progress
    )
    try:
        for index, timestamp, rgb in bar:
            predictor.push(index, timestamp, rgb)
    except KeyboardInterrupt:
        pass  # a camera is stopped with Ctrl-C: keep and write what was seen
    finally:
        bar.close()
    predictor.flush()
    if annotator is not None:
        annotator.close()
    seconds = time.perf_counter() - start
    if len(predictor.frames) < predictor.T:
        raise BadInputError(
            source.name,
            f"only {len(predictor.frames)} frame(s); the model needs windows of {predictor.T} frames",
        )
    result = PredictionResult(
        source=source.name,
        class_names=classifier.info.class_names,
        fps=source.fps,
        window=predictor.T,
        stride=options.stride,
        smooth=options.smooth,
        smooth_window=options.smooth_window,
        face_mode=predictor.face_mode,
        backend="onnxruntime" if onnx else "torch",
        windows=predictor.windows,
        frames=predictor.frames,
        seconds=seconds,
        min_confidence=options.min_confidence,
    )
    if out is not None:
        write_tables(result, out)
        if options.timeline:
            plot_timeline(result, out / TIMELINE_PNG)
    return result


def predict_video(
    video: str | Path,
    model_dir: str | Path,
    out_dir: str | Path | None,
    options: PredictOptions = PredictOptions(),
    *,
    onnx: bool = False,
) -> PredictionResult:
    with _output_folder(out_dir) as work:
        return predict_source(video_source(video), model_dir, work, options, onnx=onnx)


def predict_camera(
    index: int,
    model_dir: str | Path,
    out_dir: str | Path | None,
    options: PredictOptions = PredictOptions(),
    *,
    onnx: bool = False,
    max_frames: int | None = None,
) -> PredictionResult:
    live = dataclasses.replace(options, batch_size=1)  # live: classify each window as soon as it ends
    with _output_folder(out_dir) as work:
        return predict_source(camera_source(index, max_frames=max_frames), model_dir, work, live, onnx=onnx)


@contextmanager
def _output_folder(out_dir: str | Path | None) -> Iterator[Path | None]:
    """Outputs are written beside ``out_dir`` and moved into place at the end: a failed run (a full disk,
    a bad video) leaves no folder that looks complete, and a previous prediction stays as it was."""
    if out_dir is None:
        yield None
        return
    with atomic_folder(out_dir, has_entry(WINDOWS_JSON, ANNOTATED_MP4), "prediction folder") as work:
        yield work
