"""Writing a prediction: CSV and JSON tables, the emotion timeline PNG and the annotated MP4."""

from __future__ import annotations

import csv
import json
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


class VideoAnnotator:
    """Writes the annotated MP4 (mp4v): a box and label per face and the probability bars of each face."""

    BAR_W, BAR_H = 120, 12

    def __init__(self, path: Path, fps: float, class_names: tuple[str, ...]) -> None:
        self.path, self.fps, self.class_names = Path(path), fps, class_names
        self.writer: cv2.VideoWriter | None = None
        self.label_w = max(len(n) for n in class_names) * 8 + 8

    def write(self, rgb: np.ndarray, faces: dict[int, Box], latest: dict[int, WindowResult]) -> None:
        frame = (
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR)
        )
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = frame.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot write an mp4v video here")
        panel_y = 8
        if not faces:
            cv2.putText(frame, "no face", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2, cv2.LINE_AA)
        for tid, box in sorted(faces.items()):
            window = latest.get(tid)
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            text = (
                f"{tid}: ..."
                if window is None
                else f"{tid}: {window.label(self.class_names)} {window.confidence():.0%}"
            )
            cv2.rectangle(frame, (x0, y0), (x1, y1), (0, 220, 0), 2)
            cv2.putText(
                frame, text, (x0, max(14, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 220, 0), 1, cv2.LINE_AA
            )
            if window is not None and window.smoothed is not None:
                panel_y = self._bars(frame, tid, window.smoothed, panel_y)
        self.writer.write(frame)

    def _bars(self, frame: np.ndarray, tid: int, probs: np.ndarray, y: int) -> int:
        cv2.putText(
            frame, f"face {tid}", (8, y + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA
        )
        y += 14
        for name, p in zip(self.class_names, probs, strict=True):
            x = 8 + self.label_w
            cv2.putText(
                frame, name, (8, y + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA
            )
            cv2.rectangle(frame, (x, y), (x + self.BAR_W, y + self.BAR_H - 2), (60, 60, 60), -1)
            cv2.rectangle(
                frame, (x, y), (x + int(self.BAR_W * float(p)), y + self.BAR_H - 2), (0, 200, 255), -1
            )
            y += self.BAR_H
        return y + 6

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
