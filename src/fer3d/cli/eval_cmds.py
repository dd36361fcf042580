"""``evaluate``: subject-wise cross-validation of one configuration on a clip cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from fer3d.cli.common import (
    ConfigOpt,
    DeviceOpt,
    EnsembleOpt,
    InitOpt,
    PresetOpt,
    ProfileOpt,
    SetOpt,
    WorkersOpt,
    resolve_config,
    resolve_init,
    resolve_workers,
)
from fer3d.cli.errors import UserError


def evaluate(
    cache: Annotated[Path, typer.Argument(help="Clip cache folder printed by `fer3d prepare`")],
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = "auto",
    overrides: SetOpt = None,
    ensemble: EnsembleOpt = None,
    init: InitOpt = None,
    protocol: Annotated[str, typer.Option(help="loso | kfold")] = "kfold",
    k: Annotated[int, typer.Option("--k", help="Folds for kfold")] = 10,
    split_seed: Annotated[int, typer.Option(help="Seed of the subject k-fold split")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Run folder (resumable)")] = Path(
        "runs/evaluate"
    ),
    device: DeviceOpt = None,
    workers: WorkersOpt = "auto",
    nested: Annotated[
        bool, typer.Option("--nested", help="Nested CV: search inside each outer training part")
    ] = False,
    n_trials: Annotated[int, typer.Option("--n-trials", help="--nested: search trials per outer fold")] = 20,
    inner_protocol: Annotated[str, typer.Option(help="--nested: inner search folds, loso | kfold")] = "loso",
    threshold: Annotated[
        float, typer.Option(help="--nested: exact pruning target of the inner search")
    ] = 0.965,
) -> None:
    """Cross-validate a configuration; finished folds are kept, so an interrupted run resumes.

    With --nested, the architecture search runs on the inner folds of each outer training part and the
    chosen configuration is scored once on the outer test fold (an unbiased estimate).
    """
    experiment = resolve_config(preset, config, profile, overrides, device=device, ensemble=ensemble)
    if nested:
        from fer3d.cli.experiment_cmds import run_nested

        if init is not None:
            raise UserError("--init is not supported with --nested; run the nested search without it")
        base = experiment
        run_nested(
            cache,
            base,
            k=k,
            split_seed=split_seed,
            inner_protocol=inner_protocol,
            inner_k=k,
            n_trials=n_trials,
            threshold=threshold,
            sampler="tpe",
            pruner="exact",
            seed=0,
            output=output,
            device=device,
        )
        return
    from fer3d.data.cache import ClipStore
    from fer3d.evaluation.crossval import cross_validate
    from fer3d.evaluation.metrics import format_confusion
    from fer3d.evaluation.splits import make_folds

    store = ClipStore.open(cache)
    warm_start = resolve_init(init)
    try:
        folds = make_folds(protocol, store.labels, store.subjects, k=k, seed=split_seed)
    except ValueError as err:  # k out of range or an unknown protocol: a usage error, not a crash
        raise UserError(f"{cache}: {err}") from None
    result = cross_validate(
        store,
        experiment,
        protocol,
        folds=folds,
        out_dir=output,
        device=device,
        workers=resolve_workers(workers, experiment, device, len(folds)),
        warm_start=warm_start,
    )
    metrics = result.metrics()
    accs = np.array(result.fold_accuracies)
    spread = accs.std(ddof=1) if len(accs) > 1 else 0.0
    typer.echo(f"\n{protocol} over {len(result.folds)} folds, {metrics['n_tested']} clips")
    typer.echo(f"pooled accuracy: {100 * metrics['pooled_accuracy']:.2f}%")
    typer.echo(f"fold accuracy: mean {100 * accs.mean():.2f}%  std {100 * spread:.2f}%")
    typer.echo("per-fold: " + " ".join(f"{100 * a:.0f}" for a in accs))
    typer.echo("confusion matrix (rows: true class):")
    typer.echo(format_confusion(result.confusion(), result.class_names))
    typer.echo(f"results: {output}")


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
