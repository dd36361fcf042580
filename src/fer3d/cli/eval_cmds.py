"""``evaluate``: subject-wise cross-validation of one configuration on a clip cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from fer3d.cli.common import ConfigOpt, DeviceOpt, PresetOpt, ProfileOpt, SetOpt, resolve_config


def evaluate(
    cache: Annotated[Path, typer.Argument(help="Clip cache folder printed by `fer3d prepare`")],
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = "full",
    overrides: SetOpt = None,
    protocol: Annotated[str, typer.Option(help="loso | kfold")] = "kfold",
    k: Annotated[int, typer.Option("--k", help="Folds for kfold")] = 10,
    split_seed: Annotated[int, typer.Option(help="Seed of the subject k-fold split")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Run folder (resumable)")] = Path("runs/evaluate"),
    device: DeviceOpt = None,
) -> None:
    """Cross-validate a configuration; finished folds are kept, so an interrupted run resumes."""
    from fer3d.data.cache import ClipStore
    from fer3d.evaluation.crossval import cross_validate
    from fer3d.evaluation.metrics import format_confusion

    store = ClipStore.open(cache)
    experiment = resolve_config(preset, config, profile, overrides)
    result = cross_validate(store, experiment, protocol, k=k, split_seed=split_seed, out_dir=output, device=device)
    metrics = result.metrics()
    accs = np.array(result.fold_accuracies)
    typer.echo(f"\n{protocol} over {len(result.folds)} folds, {metrics['n_tested']} clips")
    typer.echo(f"pooled accuracy: {100 * metrics['pooled_accuracy']:.2f}%")
    typer.echo(f"fold accuracy: mean {100 * accs.mean():.2f}%  std {100 * accs.std(ddof=1) if len(accs) > 1 else 0:.2f}%")
    typer.echo("per-fold: " + " ".join(f"{100 * a:.0f}" for a in accs))
    typer.echo("confusion matrix (rows: true class):")
    typer.echo(format_confusion(result.confusion(), result.class_names))
    typer.echo(f"results: {output}")


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
