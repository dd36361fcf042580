"""Find what a report can show in the folders it is given.

- an evaluate run folder (``run.json`` + ``folds/``), including nested runs and transfer arms;
- a search folder (holding ``search.db``: every study in it);
- a transfer folder (``transfer.json`` + ``scratch/`` + ``finetuned/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.evaluation.crossval import CVResult, load_result


@dataclass
class Run:
    path: Path
    result: CVResult
    config: ExperimentConfig | None
    dataset: str  # reader name from the cache (ckplus, oulu, folder, ...)
    data_root: str
    channels: int
    label: str = ""  # "transfer: scratch" etc.


@dataclass
class Search:
    path: Path
    study: optuna.Study


@dataclass
class Transfer:
    path: Path
    info: dict[str, Any]
    arms: dict[str, Run]


@dataclass
class Sources:
    runs: list[Run] = field(default_factory=list)
    searches: list[Search] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)


def load_run(path: Path, label: str = "") -> Run:
    result = load_result(path)
    header = json.loads((path / "run.json").read_text())
    store = ClipStore.open(header["cache"])
    config = ExperimentConfig.from_dict(header["config"]) if "config" in header else None
    if (path / "nested.json").exists():
        label = label or "nested (search inside each outer fold)"
    return Run(
        path,
        result,
        config,
        store.meta.get("dataset", "?"),
        store.meta.get("root", str(store.path)),
        store.channels,
        label,
    )


def load_searches(path: Path) -> list[Search]:
    storage = optuna.storages.RDBStorage(f"sqlite:///{(path / 'search.db').resolve()}")
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    return [Search(path, optuna.load_study(study_name=n, storage=storage)) for n in sorted(names)]


def discover(paths: list[Path]) -> Sources:
    """Classify every folder; a folder that is none of the known kinds is an error naming it."""
    sources = Sources()
    for path in map(Path, paths):
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a folder")
        found = False
        if (path / "transfer.json").exists():
            info = json.loads((path / "transfer.json").read_text())
            arms = {
                arm: load_run(path / arm, f"transfer: {arm}")
                for arm in ("scratch", "finetuned")
                if (path / arm / "run.json").exists()
            }
            sources.transfers.append(Transfer(path, info, arms))
            found = True
        if (path / "search.db").exists():
            sources.searches.extend(load_searches(path))
            found = True
        if (path / "run.json").exists():
            sources.runs.append(load_run(path))
            found = True
        if not found:
            raise FileNotFoundError(
                f"{path} holds no run.json, search.db or transfer.json: give folders written by "
                "`fer3d evaluate`, `fer3d search`, `fer3d transfer` or `fer3d nested`"
            )
    return sources
