"""Model commands: ``train`` (final model on all data), ``predict`` (emotion over time), ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fer3d.cli.common import (
    ConfigOpt,
    DeviceOpt,
    EnsembleOpt,
    InitOpt,
    PresetOpt,
    ProfileOpt,
    SetOpt,
    resolve_config,
    resolve_init,
)
from fer3d.cli.errors import UserError


def train(
    cache: Annotated[Path, typer.Argument(help="Clip cache folder printed by `fer3d prepare`")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write")],
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = "auto",
    overrides: SetOpt = None,
    ensemble: EnsembleOpt = None,
    init: InitOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Train one model (or the members of an ensemble) on every clip of the cache (no held-out data) and
    save it as a model folder; `predict` and `export` apply the config's ensemble and mirror averaging."""
    from fer3d.data.cache import ClipStore
    from fer3d.inference.final import train_final

    store = ClipStore.open(cache)
    experiment = resolve_config(preset, config, profile, overrides, device=device, ensemble=ensemble)
    path = train_final(store, experiment, output, device=device, warm_start=resolve_init(init))
    members = experiment.test.ensemble
    typer.echo(
        f"trained {f'{members} members ' if members > 1 else ''}on {len(store)} clips, "
        f"{store.num_classes} classes: {', '.join(store.class_names)}"
    )
    typer.echo(f"model: {path}")


def predict(
    video: Annotated[Path | None, typer.Argument(help="Video file (omit with --camera)")] = None,
    model: Annotated[Path, typer.Option("--model", help="Model folder written by `fer3d train`")] = Path(
        "runs/model"
    ),
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output folder (default: runs/predict/<video name>)")
    ] = None,
    stride: Annotated[int, typer.Option(help="Frames between the ends of two windows (1 = every frame)")] = 2,
    smooth: Annotated[str, typer.Option(help="none | ema | median (causal, per face)")] = "none",
    smooth_window: Annotated[int, typer.Option(help="Windows averaged by --smooth")] = 5,
    all_faces: Annotated[
        bool, typer.Option("--all-faces", help="Follow every face, not only the largest")
    ] = False,
    onnx: Annotated[bool, typer.Option("--onnx", help="Run MODEL/model.onnx with onnxruntime")] = False,
    camera: Annotated[int | None, typer.Option("--camera", help="Read camera N instead of a file")] = None,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many camera frames")] = None,
    faces: Annotated[str | None, typer.Option(help="dlib | none (default: as the model was trained)")] = None,
    no_video: Annotated[bool, typer.Option("--no-video", help="Skip the annotated MP4")] = False,
    min_confidence: Annotated[
        float,
        typer.Option(help="Show a window as 'uncertain' when its top probability is below this (0 = never)"),
    ] = 0.0,
) -> None:
    """Emotion over time: per-window probabilities (CSV, JSON), a timeline PNG and an annotated MP4."""
    from fer3d.inference.predict import PredictOptions, predict_camera, predict_video
    from fer3d.inference.smoothing import SMOOTH_MODES

    if (video is None) == (camera is None):
        raise UserError("give either a VIDEO file or --camera N")
    if smooth not in SMOOTH_MODES:
        raise UserError(f"--smooth must be one of {', '.join(SMOOTH_MODES)}, not {smooth!r}")
    if faces not in (None, "dlib", "none"):
        raise UserError(f"--faces must be dlib or none, not {faces!r}")
    if stride < 1 or smooth_window < 1:
        raise UserError("--stride and --smooth-window must be at least 1")
    if not 0.0 <= min_confidence <= 1.0:
        raise UserError(f"--min-confidence must be between 0 and 1, not {min_confidence}")
    options = PredictOptions(
        stride=stride,
        smooth=smooth,  # type: ignore[arg-type]
        smooth_window=smooth_window,
        all_faces=all_faces,
        faces=faces,
        annotate=not no_video,
        min_confidence=min_confidence,
    )
    name = video.stem if video is not None else f"camera{camera}"
    out = output or Path("runs/predict") / name
    if video is not None:
        result = predict_video(video, model, out, options, onnx=onnx)
    else:
        result = predict_camera(camera, model, out, options, onnx=onnx, max_frames=max_frames)  # type: ignore[arg-type]
    ok = sum(w.status == "ok" for w in result.windows)
    typer.echo(
        f"{len(result.frames)} frames ({result.frames_per_second:.1f} frames/s), face in "
        f"{100 * result.face_fraction:.1f}% of frames; {ok} of {len(result.windows)} windows classified"
        + (f", {sum(w.uncertain for w in result.windows)} uncertain" if min_confidence > 0 else "")
    )
    typer.echo(f"outputs: {out}")


def export(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by `fer3d train`")],
    onnx: Annotated[bool, typer.Option("--onnx", help="Write MODEL_DIR/model.onnx")] = False,
) -> None:
    """Export a model folder (ONNX, checked against PyTorch within 1e-4)."""
    if not onnx:
        raise UserError("choose an export format: --onnx")
    from fer3d.inference.export import export_onnx

    path, difference = export_onnx(model_dir)
    typer.echo(f"onnx: {path} (largest difference from PyTorch: {difference:.1e})")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(predict)
    app.command()(export)
