"""``search`` and ``best``: the architecture search over the paper's Table 1 space, and its result."""

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
    resolve_workers,
)
from fer3d.cli.errors import UserError

StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage", help="Optuna storage URL (default sqlite:///OUT/search.db); PostgreSQL for many machines"
    ),
]


def search(
    cache: Annotated[Path, typer.Argument(help="Clip cache folder printed by `fer3d prepare`")],
    study: Annotated[str, typer.Option("--study", help="Study name; the same name resumes or joins it")],
    storage: StorageOpt = None,
    n_trials: Annotated[int, typer.Option("--n-trials", help="Total finished trials over all workers")] = 100,
    timeout: Annotated[
        float | None, typer.Option(help="Stop starting trials after this many seconds")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Exact pruning target: pooled accuracy a trial must reach")
    ] = 0.965,
    protocol: Annotated[str, typer.Option(help="loso | kfold")] = "loso",
    k: Annotated[int, typer.Option("--k", help="Folds for kfold")] = 10,
    split_seed: Annotated[int, typer.Option(help="Seed of the subject k-fold split")] = 0,
    sampler: Annotated[str, typer.Option(help="tpe | random")] = "tpe",
    seed: Annotated[int, typer.Option(help="Sampler seed")] = 0,
    startup_trials: Annotated[int, typer.Option(help="TPE: random trials before it models the results")] = 10,
    pruner: Annotated[
        str, typer.Option(help="exact | median | wilcoxon (both on top of exact) | none")
    ] = "exact",
    search_lr: Annotated[
        bool, typer.Option("--search-lr", help="Also search the learning rate (not in Table 1)")
    ] = False,
    space: Annotated[
        str,
        typer.Option(
            help="paper: exactly the paper's Table 1 | extended: also lr, weight decay, epochs, input "
            "size, width, label smoothing, EMA, mixup/cutmix, AdamW and a temporal head"
        ),
    ] = "paper",
    fidelity: Annotated[
        str,
        typer.Option(
            help="single: every trial runs the --protocol objective | rungs: a cheap subject k-fold "
            "first (--rung-k, --rung-epochs), the objective only for its top 1/--reduction-factor"
        ),
    ] = "single",
    rung_k: Annotated[int, typer.Option(help="Folds of the cheap rung (subject k-fold)")] = 5,
    rung_epochs: Annotated[float, typer.Option(help="The cheap rung's share of the epochs")] = 0.5,
    rung_size: Annotated[
        int | None, typer.Option(help="Input size of the cheap rung (default: the trial's)")
    ] = None,
    reduction_factor: Annotated[
        int, typer.Option(help="Rungs: the top 1/this of a rung's trials go on to the objective")
    ] = 3,
    warm_start: Annotated[
        bool,
        typer.Option(help="Queue the paper's two presets as the first trials (once per study)"),
    ] = True,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = "auto",
    overrides: SetOpt = None,
    ensemble: EnsembleOpt = None,
    init: InitOpt = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Search folder: search.db, trials/")] = Path(
        "runs/search"
    ),
    jobs: Annotated[
        str,
        typer.Option(
            "--jobs",
            help="Worker processes on this machine sharing the study: a number, or auto (on CPU, one "
            "one-thread worker per core for small models such as --profile cpu; 1 otherwise)",
        ),
    ] = "auto",
    device: DeviceOpt = None,
    heartbeat: Annotated[int, typer.Option(help="Seconds between a running trial's heartbeats")] = 30,
    grace: Annotated[int, typer.Option(help="A trial silent this long is failed and retried")] = 120,
    threads: Annotated[int | None, typer.Option(hidden=True, help="torch threads of this process")] = None,
    progress: Annotated[bool, typer.Option(hidden=True)] = True,
) -> None:
    """Search the paper's Table 1 space with Optuna; kill it any time, the same command resumes.

    The paper's two presets are the first trials (--no-warm-start to leave them out). With --init, every
    fold of every trial starts from that model folder, the searched choices that shape its weights
    (temporal kernel, extra block, activation, and size, width and head in --space extended) stay at the
    folder's values, and the presets are left out.
    """
    from fer3d.data.cache import ClipStore
    from fer3d.runtime import configure_process
    from fer3d.search.parallel import run_search_workers
    from fer3d.search.study import SearchError, SearchSettings, run_search

    if threads is not None:
        configure_process(threads=threads)
    from fer3d.search.rungs import Rung, RungSchedule

    store = ClipStore.open(cache)
    base = resolve_config(preset, config, profile, overrides, device=device, ensemble=ensemble)
    workers = resolve_workers(jobs, base, device, n_trials, option="--jobs")
    try:
        rungs = RungSchedule((Rung(k=rung_k, epochs=rung_epochs, size=rung_size),), reduction_factor)
    except ValueError as err:
        raise UserError(f"--rung-k/--rung-epochs/--rung-size/--reduction-factor: {err}") from None
    try:
        settings = SearchSettings(
            study_name=study,
            out_dir=output,
            base=base,
            storage=storage,
            n_trials=n_trials,
            timeout=timeout,
            threshold=threshold,
            protocol=protocol,
            k=k,
            split_seed=split_seed,
            sampler=sampler,
            seed=seed,
            startup_trials=startup_trials,
            pruner=pruner,
            search_lr=search_lr,
            device=device,
            heartbeat_interval=heartbeat,
            grace_period=grace,
            space=space,
            fidelity=fidelity,
            rungs=rungs,
            warm_start=warm_start,
            init_weights=resolve_init(init),
        )
        if workers > 1:
            result = run_search_workers(store, settings, workers, progress=progress)
        else:
            result = run_search(store, settings, progress=progress)
    except SearchError as err:
        raise UserError(str(err)) from None
    print_outcome(result)


def print_outcome(study) -> None:
    """The study's trial counts and its best trial, printed once when a search ends."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    typer.echo(
        f"study {study.study_name}: {count['complete']} complete, {count['pruned']} pruned, "
        f"{count['fail']} failed"
    )
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        typer.echo(
            f"best: trial {best.number}, pooled accuracy {100 * best.value:.2f}% (selected on these folds)"
        )
        typer.echo(f"params: {best.params}")
    else:
        typer.echo("no trial completed (all pruned?): lower --threshold or run more trials")


def best(
    study: Annotated[str, typer.Argument(help="Study name given to `fer3d search --study`")],
    storage: StorageOpt = None,
    search_dir: Annotated[
        Path, typer.Option("-o", "--search-dir", help="Search folder holding search.db (when no --storage)")
    ] = Path("runs/search"),
    output: Annotated[Path, typer.Option("--output", help="Config JSON to write")] = Path("best.json"),
) -> None:
    """Write the best trial's full config as JSON for `fer3d evaluate --config`."""
    from fer3d.atomic import check_output_file, json_keys, write_json_atomic
    from fer3d.search.study import SearchError, best_config, load_study

    check_output_file(output, json_keys("input", "model", "train"), "config JSON")
    url = storage or f"sqlite:///{(search_dir / 'search.db').resolve()}"
    if storage is None and not (search_dir / "search.db").is_file():
        raise UserError(
            f"{search_dir / 'search.db'} does not exist; give --storage URL or the search's -o folder"
        )
    try:
        found = load_study(study, url)
        config = best_config(found)
    except SearchError as err:
        raise UserError(str(err)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output, config.to_dict())
    trial = found.best_trial
    typer.echo(
        f"trial {trial.number}: pooled accuracy {100 * trial.value:.2f}% on the folds it was selected on"
    )
    typer.echo(
        f"wrote {output}; measure it without selection bias with `fer3d evaluate --config {output}` on other"
    )
    typer.echo("data or with nested cross-validation")


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(best)
