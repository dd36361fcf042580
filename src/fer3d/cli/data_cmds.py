"""Data commands: ``synth`` (synthetic dataset) and ``prepare`` (clip cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write (CK+ layout)")],
    subjects: Annotated[int, typer.Option(help="Number of subjects")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files")] = 0,
    difficulty: Annotated[float, typer.Option(help="0 (easy) .. 1 (hard)")] = 0.5,
    emotions: Annotated[int, typer.Option(help="6 (Oulu-like) or 7 (CK+-like, with contempt)")] = 7,
) -> None:
    """Generate synthetic expressive-face sequences in the CK+ official layout."""
    from fer3d.data.synthetic import SynthConfig, generate

    summary = generate(Path(out), SynthConfig(subjects=subjects, seed=seed, difficulty=difficulty, emotions=emotions))
    typer.echo(summary)


def prepare(
    root: Annotated[Path, typer.Argument(help="Dataset root folder")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Cache root; the cache folder is printed")] = Path(
        "runs/cache"
    ),
    format: Annotated[str, typer.Option("--format", help="ckplus | oulu | folder")] = "ckplus",
    size: Annotated[int, typer.Option(help="Crop size in pixels")] = 112,
    color: Annotated[str, typer.Option(help="gray | rgb")] = "gray",
    faces: Annotated[str, typer.Option(help="dlib (detect + eye-align) | none (frames already cropped)")] = "none",
    frames: Annotated[int, typer.Option(help="Frames per clip (the last ones of each sequence)")] = 10,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip bad inputs (listed) instead of stopping")] = False,
    workers: Annotated[int, typer.Option(help="Processes (0 = all cores)")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if a matching cache exists")] = False,
) -> None:
    """Read a dataset, crop faces and write the clip cache (reused when nothing changed)."""
    from fer3d.data.prepare import PrepareConfig, skip_summary
    from fer3d.data.prepare import prepare as run_prepare
    from fer3d.data.registry import read_dataset

    dataset = read_dataset(format, root, skip_bad=skip_bad)
    for note in dataset.notes:
        typer.echo(f"note: {note}")
    config = PrepareConfig(frames=frames, size=size, color=color, faces=faces)  # type: ignore[arg-type]
    store = run_prepare(dataset, output, config, workers=workers or None, force=force)
    if dataset.skip_log.skipped:
        typer.echo(skip_summary(dataset.skip_log))
    typer.echo(f"{len(store)} clips, {len(set(store.subjects))} subjects, {store.num_classes} classes")
    typer.echo(f"cache: {store.path}")


def register(app: typer.Typer) -> None:
    app.command()(synth)
    app.command()(prepare)
