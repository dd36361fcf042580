"""``transfer`` and ``nested``: the paper's cross-dataset experiment and the unbiased nested estimate."""

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
    resolve_config,
    resolve_init,
)
from fer3d.cli.errors import UserError
from fer3d.config import ExperimentConfig

KOpt = Annotated[int, typer.Option("--k", help="Number of subject folds")]
SplitSeedOpt = Annotated[int, typer.Option(help="Seed of the subject k-fold split")]


def transfer(
    source_cache: Annotated[
        Path, typer.Option("--source-cache", help="Cache of dataset A (the config was tuned on it)")
    ],
    target_cache: Annotated[Path, typer.Option("--target-cache", help="Cache of dataset B (evaluated)")],
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = "auto",
    overrides: SetOpt = None,
    ensemble: EnsembleOpt = None,
    init: InitOpt = None,
    k: KOpt = 10,
    split_seed: SplitSeedOpt = 0,
    map_extra: Annotated[
        list[str] | None, typer.Option("--map", help="Extra class pair SOURCE=TARGET (repeatable)")
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Transfer folder (resumable)")] = Path(
        "runs/transfer"
    ),
    device: DeviceOpt = None,
) -> None:
    """Table 6: evaluate a config on B with subject k-fold, from scratch and fine-tuned from all of A.

    With --init, the "scratch" arm's folds and the pre-training on A start from that model folder."""
    from fer3d.data.cache import ClipStore
    from fer3d.evaluation.transfer import transfer as run_transfer

    extra = {}
    for item in map_extra or []:
        if "=" not in item:
            raise UserError(f"--map expects SOURCE=TARGET, got {item!r}")
        src, tgt = item.split("=", 1)
        extra[src] = tgt
    experiment = resolve_config(preset, config, profile, overrides, device=device, ensemble=ensemble)
    source, target = ClipStore.open(source_cache), ClipStore.open(target_cache)
    try:
        result = run_transfer(
            source,
            target,
            experiment,
            k=k,
            split_seed=split_seed,
            out_dir=output,
            device=device,
            extra_map=extra,
            warm_start=resolve_init(init),
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    typer.echo(f"label map {result.source} -> {result.target}:\n{result.label_map.describe()}")
    typer.echo(f"target clips dropped (class absent from the source): {result.dropped}")
    typer.echo(f"\nTable 6 rows ({result.source} -> {result.target}):")
    for row in result.table6_rows():
        typer.echo(
            f"  {row['training']:<42} {row['protocol']}: pooled {100 * row['pooled_accuracy']:.2f}%  "
            f"folds {100 * row['mean_fold_accuracy']:.2f} ± {100 * row['std_fold_accuracy']:.2f}%  "
            f"({row['n_tested']} clips)"
        )
    typer.echo(f"results: {output} (compare the arms: fer3d compare {output}/finetuned {output}/scratch)")


def nested(
    cache: Annotated[Path, typer.Argument(help="Clip cache folder printed by `fer3d prepare`")],
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = "auto",
    overrides: SetOpt = None,
    k: KOpt = 10,
    split_seed: SplitSeedOpt = 0,
    inner_protocol: Annotated[str, typer.Option(help="Inner search folds: loso | kfold")] = "loso",
    inner_k: Annotated[int, typer.Option(help="Inner folds for kfold")] = 10,
    n_trials: Annotated[int, typer.Option("--n-trials", help="Search trials per outer fold")] = 20,
    threshold: Annotated[float, typer.Option(help="Exact pruning target of the inner search")] = 0.965,
    sampler: Annotated[str, typer.Option(help="tpe | random")] = "tpe",
    pruner: Annotated[str, typer.Option(help="exact | median | wilcoxon | none")] = "exact",
    seed: Annotated[int, typer.Option(help="Sampler seed")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Nested run folder (resumable)")] = Path(
        "runs/nested"
    ),
    device: DeviceOpt = None,
) -> None:
    """Nested CV: search on the inner folds of each outer training part, score once on the outer fold."""
    run_nested(
        cache,
        resolve_config(preset, config, profile, overrides, device=device),
        k=k,
        split_seed=split_seed,
        inner_protocol=inner_protocol,
        inner_k=inner_k,
        n_trials=n_trials,
        threshold=threshold,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        output=output,
        device=device,
    )


def run_nested(
    cache: Path,
    base: ExperimentConfig,
    *,
    k: int,
    split_seed: int,
    inner_protocol: str,
    inner_k: int,
    n_trials: int,
    threshold: float,
    sampler: str,
    pruner: str,
    seed: int,
    output: Path,
    device: str | None,
) -> None:
    """The body of ``fer3d nested`` (and of ``fer3d evaluate --nested``)."""
    from fer3d.data.cache import ClipStore
    from fer3d.evaluation.metrics import format_confusion
    from fer3d.search.inner_search import nested_search
    from fer3d.search.study import SearchError, SearchSettings

    store = ClipStore.open(cache)
    try:
        settings = SearchSettings(
            study_name="nested",
            out_dir=output,
            base=base,
            n_trials=n_trials,
            threshold=threshold,
            protocol=inner_protocol,
            k=inner_k,
            split_seed=split_seed,
            sampler=sampler,
            seed=seed,
            pruner=pruner,
            device=device,
        )
        result = nested_search(store, settings, k=k, split_seed=split_seed, out_dir=output, device=device)
    except (SearchError, ValueError) as err:
        raise UserError(str(err)) from None
    accs = np.array(result.fold_accuracies)
    typer.echo(f"\nnested subject {k}-fold ({n_trials} trials of inner {inner_protocol} per outer fold)")
    typer.echo(
        f"pooled outer accuracy: {100 * result.pooled_accuracy:.2f}%  (no outer test clip was searched on)"
    )
    typer.echo(
        f"outer fold accuracy: mean {100 * accs.mean():.2f}%  "
        f"std {100 * accs.std(ddof=1) if len(accs) > 1 else 0:.2f}%"
    )
    typer.echo(format_confusion(result.confusion(), result.class_names))
    typer.echo(f"results: {output} (chosen configs in {output}/nested.json)")


def register(app: typer.Typer) -> None:
    app.command()(transfer)
    app.command()(nested)
