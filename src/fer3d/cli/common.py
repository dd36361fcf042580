"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fer3d.cli.errors import UserError
from fer3d.config import ExperimentConfig, parse_overrides
from fer3d.presets import AUTO, apply_profile, get_config, resolve_profile

if TYPE_CHECKING:
    from fer3d.inference.warm_start import WarmStart

PresetOpt = Annotated[str | None, typer.Option("--preset", help="ckplus-paper | oulu-paper")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Experiment config JSON (e.g. from `fer3d best`)")
]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Cost profile: auto (full on a GPU, cpu otherwise; a --config file is used as written) | "
        "full (the paper's scale, a GPU job) | cpu | tiny",
    ),
]
EnsembleOpt = Annotated[
    int | None,
    typer.Option(
        "--ensemble",
        min=1,
        help="Models trained per fold (and by train) from derived seeds, their probabilities averaged "
        "(test.ensemble; default: the config's, 1). Costs N times the training and N times the prediction "
        "(2N with test.mirror)",
    ),
]
InitOpt = Annotated[
    Path | None,
    typer.Option(
        "--init",
        help="Start every trained model from this model folder's weights (same architecture needed); "
        "classifier rows of classes the folder lacks start fresh",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config field, e.g. --set train.epochs=5 (repeatable)"),
]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="cpu | cuda | cuda:1 (default: cuda if available)")
]
WorkersOpt = Annotated[
    str,
    typer.Option(
        "--workers",
        help="Processes training folds at once: a number, or auto (for small models such as --profile cpu, "
        "one one-thread process per core on CPU and 4 sharing a GPU; 1 otherwise)",
    ),
]


def resolve_workers(
    text: str, config: ExperimentConfig, device: str | None, tasks: int, option: str = "--workers"
) -> int:
    """``--workers`` / ``--jobs``: ``auto`` or a positive number."""
    from fer3d.training.recipe import auto_workers

    if text == "auto":
        return auto_workers(config, device, tasks)
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{option} must be a positive number or auto, got {text!r}")
    return int(text)


def resolve_config(
    preset: str | None,
    config: Path | None,
    profile: str,
    overrides: list[str] | None,
    *,
    device: str | None = None,
    ensemble: int | None = None,
    announce: bool = True,
) -> ExperimentConfig:
    """A preset or a config file, then the cost profile, then ``--set`` overrides and ``--ensemble``.

    ``--profile auto`` picks "full" on a GPU and "cpu" otherwise, except that a ``--config`` file is
    used as written (it already carries its cost, e.g. the profile a search ran with). The profile used
    is printed (``announce``)."""
    if preset and config:
        raise UserError("give either --preset or --config, not both")
    parsed = parse_overrides(overrides)
    if ensemble is not None:
        parsed["test.ensemble"] = ensemble
    if config and profile == AUTO:
        name, why = "full", f"auto: {config} used as written"
    else:
        name, why = resolve_profile(profile, device)
    if announce:
        shown = "as in the config file" if config and profile == AUTO else name
        typer.echo(f"profile: {shown} ({why})")
    if config:
        return apply_profile(ExperimentConfig.from_json(config), name, parsed)
    return get_config(preset or "ckplus-paper", name, parsed)


def resolve_init(path: Path | None) -> WarmStart | None:
    """``--init MODEL_DIR``: the folder read and checked (a clear error if it is not a model folder)."""
    if path is None:
        return None
    from fer3d.inference.warm_start import WarmStart

    return WarmStart.from_model_dir(path)
