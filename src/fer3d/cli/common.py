"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fer3d.cli.errors import UserError
from fer3d.config import ExperimentConfig, parse_overrides
from fer3d.presets import apply_profile, get_config

PresetOpt = Annotated[str | None, typer.Option("--preset", help="ckplus-paper | oulu-paper")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Experiment config JSON (e.g. from `fer3d best`)")
]
ProfileOpt = Annotated[str, typer.Option("--profile", help="Cost profile: full (paper, GPU) | cpu | tiny")]
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
    preset: str | None, config: Path | None, profile: str, overrides: list[str] | None
) -> ExperimentConfig:
    """A preset or a config file, then the cost profile, then ``--set`` overrides."""
    if preset and config:
        raise UserError("give either --preset or --config, not both")
    parsed = parse_overrides(overrides)
    if config:
        return apply_profile(ExperimentConfig.from_json(config), profile, parsed)
    return get_config(preset or "ckplus-paper", profile, parsed)
