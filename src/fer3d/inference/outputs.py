"""Writing a prediction: CSV and JSON tables, the emotion timeline PNG and the annotated MP4."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer3d.inference.results import NO_FACE, OK, PredictionResult, WindowResult
from fer3d.inference.tracking import Box

WINDOWS_CSV, WINDOWS_JSON, FRAMES_CSV = "windows.csv", "windows.json", "frames.csv"
TIMELINE_PNG, ANNOTATED_MP4 = "timeline.png", "annotated.mp4"


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _named(class_names: tuple[str, ...], probs: np.ndarray | None) -> dict[str, float | None] | None:
    return None if probs is None else dict(zip(class_names, map(_r, probs), strict=True))


def window_row(w: WindowResult, class_names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "track": w.track,
        "start_frame": w.start_frame,
        "end_frame": w.end_frame,
        "t_start": _r(w.t_start, 4),
        "t_end": _r(w.t_end, 4),
        "status": w.status,
        "face_frames": w.face_frames,
        "label": w.label(class_names),
        "confidence": _r(w.confidence()),
        "uncertain": w.uncertain,
        "top_label": w.top_label(class_names),
        "probabilities": _named(class_names, w.smoothed),
        "raw_probabilities": _named(class_names, w.raw),
    }


def write_tables(result: PredictionResult, out_dir: Path) -> list[Path]:
    """``windows.csv`` (one row per window and track; empty probabilities where there was no face),
    ``frames.csv`` (one row per frame and face; ``no_face`` rows for frames without one) and
    ``windows.json`` (both, with the run's settings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = result.class_names
    smoothed = result.smooth != "none"
    with open(out_dir / WINDOWS_CSV, "w", newline="") as fh:
        writer = csv.writer(fh)
        header = ["track", "start_frame", "end_frame", "t_start", "t_end", "status", "face_frames", "label"]
        header += (
            ["confidence"] + [f"p_{n}" for n in names] + ([f"raw_{n}" for n in names] if smoothed else [])
        )
        writer.writerow(header)
        for w in result.windows:
            row = window_row(w, names)
            probs = [] if w.smoothed is None else [f"{p:.6f}" for p in w.smoothed]
            raw = [] if w.raw is None else [f"{p:.6f}" for p in w.raw]
            cells = [
                "" if w.track is None else w.track,
                w.start_frame,
                w.end_frame,
                f"{w.t_start:.4f}",
                f"{w.t_end:.4f}",
                w.status,
                w.face_frames,
                row["label"],
                "" if w.confidence() is None else f"{w.confidence():.6f}",
            ]
            cells += probs or [""] * len(names)
            if smoothed:
                cells += raw or [""] * len(names)
            writer.writerow(cells)
    with open(out_dir / FRAMES_CSV, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["frame", "time", "track", "status", "left", "top", "right", "bottom"])
        for f in result.frames:
            if not f.faces:
                writer.writerow([f.frame, f"{f.time:.4f}", "", NO_FACE, "", "", "", ""])
            for tid, box in sorted(f.faces.items()):
                writer.writerow([f.frame, f"{f.time:.4f}", tid, "face", *(f"{v:.1f}" for v in box)])
    payload = {
        "source": result.source,
        "class_names": list(names),
        "fps": result.fps,
        "window": result.window,
        "stride": result.stride,
        "smooth": result.smooth,
        "smooth_window": result.smooth_window,
        "faces": result.face_mode,
        "backend": result.backend,
        "frame_count": len(result.frames),
        "face_fraction": round(result.face_fraction, 4),
        "seconds": round(result.seconds, 3),
        "min_confidence": result.min_confidence,
        "windows": [window_row(w, names) for w in result.windows],
        "frames": [
            {
                "frame": f.frame,
                "time": round(f.time, 4),
                "faces": {str(t): [round(v, 1) for v in b] for t, b in f.faces.items()},
            }
            for f in result.frames
        ],
    }
    (out_dir / WINDOWS_JSON).write_text(json.dumps(payload, indent=1) + "\n")
    return [out_dir / WINDOWS_CSV, out_dir / FRAMES_CSV, out_dir / WINDOWS_JSON]


def plot_timeline(result: PredictionResult, path: Path, *, max_tracks: int = 4) -> Path:
    """One panel per face track (the most-seen first): class probabilities against each window's end time,
    with grey bands over the frames where that face was not found."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts: dict[int | None, int] = {}
    for w in result.windows:
        counts[w.track] = counts.get(w.track, 0) + (w.status == OK)
    tracks = [t for t in sorted(counts, key=lambda t: -counts[t]) if t is not None][:max_tracks] or [None]
    fig, axes = plt.subplots(len(tracks), 1, figsize=(10, 2.6 * len(tracks)), sharex=True, squeeze=False)
    colors = plt.get_cmap("tab10")
    end = max([w.t_end for w in result.windows] + [f.time for f in result.frames] + [1e-3])
    times = [f.time for f in result.frames]
    step = 1.0 / result.fps if result.fps > 0 else 0.04
    for ax, track in zip(axes[:, 0], tracks, strict=True):
        rows = [w for w in result.windows if w.track == track]
        ok = [w for w in rows if w.status == OK]
        missing = [(track not in f.faces) if track is not None else not f.faces for f in result.frames]
        for first, last in _runs(missing):
            ax.axvspan(times[first], times[last] + step, color="0.85", lw=0)
        if ok:
            ends = np.array([w.t_end for w in ok])
            probs = np.stack([w.smoothed for w in ok])
            for k, name in enumerate(result.class_names):
                ax.plot(
                    ends,
                    probs[:, k],
                    color=colors(k % 10),
                    lw=1.5,
                    label=name,
                    marker="." if len(ok) < 30 else None,
                )
        if result.min_confidence > 0:  # the threshold, and a dark tick under every uncertain window
            ax.axhline(result.min_confidence, color="0.3", ls="--", lw=1, label="uncertain below")
            for w in ok:
                if w.uncertain:
                    ax.axvspan(w.t_start, w.t_end, ymax=0.04, color="0.3", lw=0)
        ax.set_ylim(0, 1)
        ax.set_xlim(0, end)
        ax.set_ylabel("probability")
        ax.set_title(
            "no face found" if not ok else (f"face {track}" if track is not None else "face"), fontsize=9
        )
    axes[-1, 0].set_xlabel("time (s) at the end of each window; grey: frames where this face was not found")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 7), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _runs(mask: list[bool]) -> list[tuple[int, int]]:
    """(first, last) index of every run of True values."""
    runs, start = [], None
    for i, value in enumerate([*mask, False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_OUTPUT_HEIGHT = 480  # smaller videos are upscaled to this height so their labels can be read
BOX_COLOR, BAR_COLOR, BAR_BACK, TEXT_COLOR = (0, 220, 0), (0, 200, 255), (70, 70, 70), (255, 255, 255)


def _even(value: float) -> int:
    """Video encoders want even frame sizes."""
    return max(2, int(round(value / 2)) * 2)


@dataclass(frozen=True)
class AnnotationLayout:
    """Where the annotated video draws: the source frame scaled by ``scale`` on the left, and a panel
    of labels and probability bars in a margin on its right, so nothing is drawn over a face but its box.

    Every size follows the output height, so text is as legible on a 176x144 video (upscaled) as on
    a 1080p one.
    """

    scale: float  # source frame -> output frame
    frame_w: int  # the scaled frame's size in the output
    frame_h: int
    panel_w: int  # the margin's width, right of the frame
    font_scale: float
    thickness: int
    line_h: int  # one panel line: a class name and its bar

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output video."""
        return self.frame_w + self.panel_w, self.frame_h

    @classmethod
    def for_frame(
        cls, width: int, height: int, class_names: tuple[str, ...], *, min_height: int = MIN_OUTPUT_HEIGHT
    ) -> AnnotationLayout:
        scale = max(1.0, min_height / height)
        frame_w, frame_h = _even(width * scale), _even(height * scale)
        # about 24 lines of text per frame height, whatever the resolution
        line_h = max(20, frame_h // 24)
        font_scale = line_h / 36
        thickness = max(1, round(line_h / 16))
        label_w = max(
            cv2.getTextSize(n, FONT, font_scale, thickness)[0][0] for n in (*class_names, "face 00")
        )
        percent_w = cv2.getTextSize("100%", FONT, font_scale, thickness)[0][0]
        panel_w = _even(label_w + 6 * line_h + percent_w + 3 * line_h // 2)
        return cls(scale, frame_w, frame_h, panel_w, font_scale, thickness, line_h)


class VideoAnnotator:
    """Writes the annotated MP4 (mp4v): the frame (upscaled when small) with a box and a short label per
    face, and beside it a margin with each face's label and class probability bars."""

    def __init__(self, path: Path, fps: float, class_names: tuple[str, ...]) -> None:
        self.path, self.fps, self.class_names = Path(path), fps, class_names
        self.writer: cv2.VideoWriter | None = None
        self.layout: AnnotationLayout | None = None

    def render(self, rgb: np.ndarray, faces: dict[int, Box], latest: dict[int, WindowResult]) -> np.ndarray:
        """The annotated BGR image of one RGB (or gray) frame: ``(layout.size[1], layout.size[0], 3)``."""
        frame = (
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR)
        )
        if self.layout is None:
            self.layout = AnnotationLayout.for_frame(frame.shape[1], frame.shape[0], self.class_names)
        lay = self.layout
        out = np.zeros((lay.frame_h, lay.frame_w + lay.panel_w, 3), np.uint8)
        out[:, : lay.frame_w] = cv2.resize(
            frame,
            (lay.frame_w, lay.frame_h),
            interpolation=cv2.INTER_LINEAR if lay.scale > 1 else cv2.INTER_AREA,
        )
        pad = lay.line_h // 2
        y = pad
        if not faces:
            self._text(out, "no face", (lay.frame_w + pad, y + lay.line_h), (0, 0, 255))
        for shown, (tid, box) in enumerate(sorted(faces.items())):
            window = latest.get(tid)
            label = "..." if window is None else f"{window.label(self.class_names)} {window.confidence():.0%}"
            self._face_box(out, tid, box, label)
            needed = lay.line_h * (len(self.class_names) + 1)
            if y + needed > lay.frame_h:
                self._text(
                    out, f"+{len(faces) - shown} more", (lay.frame_w + pad, y + lay.line_h), TEXT_COLOR
                )
                break
            self._text(out, f"face {tid}: {label}", (lay.frame_w + pad, y + lay.line_h * 4 // 5), BOX_COLOR)
            y += lay.line_h
            probs = window.smoothed if window is not None else None
            y = self._bars(out, probs, y) + pad
        return out

    def write(self, rgb: np.ndarray, faces: dict[int, Box], latest: dict[int, WindowResult]) -> None:
        image = self.render(rgb, faces, latest)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = (image.shape[1], image.shape[0])
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size)
            if not self.writer.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot write an mp4v video here")
        self.writer.write(image)

    def _text(self, out: np.ndarray, text: str, origin: tuple[int, int], color: tuple[int, int, int]) -> None:
        lay = self.layout
        assert lay is not None
        cv2.putText(out, text, origin, FONT, lay.font_scale, color, lay.thickness, cv2.LINE_AA)

    def _face_box(self, out: np.ndarray, tid: int, box: Box, label: str) -> None:
        """The face's box and ``"<track>: <label>"`` on a dark strip above it (below it at the top edge)."""
        lay = self.layout
        assert lay is not None
        x0, y0, x1, y1 = (int(round(v * lay.scale)) for v in box)
        x0, x1 = np.clip([x0, x1], 0, lay.frame_w - 1)
        y0, y1 = np.clip([y0, y1], 0, lay.frame_h - 1)
        cv2.rectangle(out, (int(x0), int(y0)), (int(x1), int(y1)), BOX_COLOR, lay.thickness + 1)
        text = f"{tid}: {label}"
        (tw, th), base = cv2.getTextSize(text, FONT, lay.font_scale, lay.thickness)
        strip = th + base + 4
        top = y0 - strip - lay.thickness if y0 - strip - lay.thickness >= 0 else y1 + lay.thickness + 1
        top = min(top, lay.frame_h - strip)
        left = int(min(x0, max(0, lay.frame_w - tw - 4)))
        cv2.rectangle(out, (left, top), (min(left + tw + 4, lay.frame_w - 1), top + strip), (0, 0, 0), -1)
        self._text(out, text, (left + 2, top + th + 2), BOX_COLOR)

    def _bars(self, out: np.ndarray, probs: np.ndarray | None, y: int) -> int:
        """One line per class: name, bar and percentage; returns the y below the last line."""
        lay = self.layout
        assert lay is not None
        pad = lay.line_h // 2
        x_name = lay.frame_w + pad
        label_w = max(cv2.getTextSize(n, FONT, lay.font_scale, lay.thickness)[0][0] for n in self.class_names)
        x_bar, bar_w = x_name + label_w + pad, 6 * lay.line_h
        for k, name in enumerate(self.class_names):
            baseline = y + lay.line_h * 4 // 5
            self._text(out, name, (x_name, baseline), TEXT_COLOR)
            top, bottom = y + lay.line_h // 6, y + lay.line_h - lay.line_h // 6
            cv2.rectangle(out, (x_bar, top), (x_bar + bar_w, bottom), BAR_BACK, -1)
            if probs is not None:
                p = float(probs[k])
                cv2.rectangle(out, (x_bar, top), (x_bar + int(round(bar_w * p)), bottom), BAR_COLOR, -1)
                self._text(out, f"{p:.0%}", (x_bar + bar_w + pad // 2, baseline), TEXT_COLOR)
            y += lay.line_h
        return y

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
