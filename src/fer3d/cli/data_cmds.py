"""Data commands: ``synth`` (synthetic data), ``prepare`` (clip cache), ``inspect`` (look at a cache)."""

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
    frames: Annotated[
        str, typer.Option(help="Frames per sequence, MIN-MAX or N (e.g. 3-6 for short sequences)")
    ] = "6-18",
) -> None:
    """Generate synthetic expressive-face sequences in the CK+ official layout."""
    from fer3d.data.synthetic import SynthConfig, generate, parse_frame_range

    min_frames, max_frames = parse_frame_range(frames)
    config = SynthConfig(
        subjects=subjects,
        seed=seed,
        difficulty=difficulty,
        emotions=emotions,
        min_frames=min_frames,
        max_frames=max_frames,
    )
    typer.echo(generate(Path(out), config))


def prepare(
    root: Annotated[Path, typer.Argument(help="Dataset root folder")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Cache root; the cache folder is printed")
    ] = Path("runs/cache"),
    format: Annotated[str, typer.Option("--format", help="ckplus | oulu | folder")] = "ckplus",
    size: Annotated[int, typer.Option(help="Crop size in pixels")] = 112,
    color: Annotated[str, typer.Option(help="gray | rgb")] = "gray",
    faces: Annotated[
        str, typer.Option(help="dlib (detect + eye-align) | none (frames already cropped)")
    ] = "none",
    frames: Annotated[int, typer.Option(help="Frames per clip (the last ones of each sequence)")] = 10,
    short: Annotated[
        str,
        typer.Option(
            help="Sequences shorter than --frames: pad (repeat the last) | nearest | linear (spread the "
            "frames over the clip)"
        ),
    ] = "pad",
    neutral: Annotated[
        str,
        typer.Option(
            help="none | onset (add a 'neutral' class: one clip of each labelled sequence's first frames)"
        ),
    ] = "none",
    margin: Annotated[
        float, typer.Option(help="Border around the aligned face, fraction of its width")
    ] = 0.25,
    upsample: Annotated[
        int, typer.Option(help="dlib upsampling when no face is found (small faces; slower)")
    ] = 1,
    subject_regex: Annotated[
        str | None,
        typer.Option(
            "--subject-regex", help="folder: regex on each sequence name; group 'subject' or 1 = subject"
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", help="folder: CSV path,label,subject (paths relative to ROOT)"),
    ] = None,
    lighting: Annotated[str, typer.Option(help="oulu: VL (visible) | NI (near infrared)")] = "VL",
    illumination: Annotated[str, typer.Option(help="oulu: Strong | Weak | Dark")] = "Strong",
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip bad inputs (listed) instead of stopping")
    ] = False,
    workers: Annotated[int, typer.Option(help="Processes (0 = all cores)")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if a matching cache exists")] = False,
) -> None:
    """Read a dataset, crop faces and write the clip cache (reused when nothing changed)."""
    from fer3d.cli.errors import UserError
    from fer3d.data.lengths import SHORT_MODES
    from fer3d.data.prepare import PrepareConfig, skip_summary
    from fer3d.data.prepare import prepare as run_prepare
    from fer3d.data.registry import read_dataset

    options: dict[str, object] = {}
    if format == "oulu":
        options = {"lighting": lighting, "illumination": illumination}
    elif format == "folder":
        options = {"subject_regex": subject_regex, "manifest": manifest}
    if format != "folder" and (subject_regex is not None or manifest is not None):
        raise UserError("--subject-regex and --manifest apply to --format folder only")
    if format != "oulu" and (lighting, illumination) != ("VL", "Strong"):
        raise UserError("--lighting and --illumination apply to --format oulu only")
    if color not in ("gray", "rgb"):
        raise UserError(f"--color must be gray or rgb, not {color!r}")
    if faces not in ("none", "dlib"):
        raise UserError(f"--faces must be dlib or none, not {faces!r}")
    if short not in SHORT_MODES:
        raise UserError(f"--short must be one of {', '.join(SHORT_MODES)}, not {short!r}")
    if neutral not in ("none", "onset"):
        raise UserError(f"--neutral must be none or onset, not {neutral!r}")
    dataset = read_dataset(format, root, skip_bad=skip_bad, **options)
    for note in dataset.notes:
        typer.echo(f"note: {note}")
    config = PrepareConfig(
        frames=frames,
        size=size,
        color=color,
        faces=faces,
        margin=margin,
        upsample=upsample,
        short=short,  # type: ignore[arg-type]
        neutral=neutral,  # type: ignore[arg-type]
    )
    store = run_prepare(dataset, output, config, workers=workers or None, force=force)
    if dataset.skip_log.skipped:
        typer.echo(skip_summary(dataset.skip_log))
    typer.echo(f"{len(store)} clips, {len(set(store.subjects))} subjects, {store.num_classes} classes")
    typer.echo(f"cache: {store.path}")


def inspect(
    cache: Annotated[Path, typer.Argument(help="A cache folder printed by `fer3d prepare`")],
    sheet: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Contact sheet PNG (default: CACHE/contact_sheet.png)"),
    ] = None,
    per_class: Annotated[int, typer.Option(help="Clips shown per class on the contact sheet")] = 2,
    clahe: Annotated[bool, typer.Option("--clahe", help="Show the CLAHE variant of the crops")] = False,
) -> None:
    """Print counts per class and subject and what was skipped; save a contact sheet of aligned crops."""
    from fer3d.data.cache import ClipStore
    from fer3d.data.inspect import contact_sheet, summary

    store = ClipStore.open(cache)
    typer.echo(summary(store))
    written = contact_sheet(
        store, sheet or store.path / "contact_sheet.png", per_class=per_class, clahe=clahe
    )
    typer.echo(f"contact sheet: {written}")


def register(app: typer.Typer) -> None:
    app.command()(synth)
    app.command()(prepare)
    app.command()(inspect)
