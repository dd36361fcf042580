"""Architecture search: the paper's Table 1 space, a cross-validation objective with exact pruning,
and resumable, multi-worker Optuna studies."""

from fer3d.search.objective import Objective
from fer3d.search.pruning import best_reachable, cannot_reach
from fer3d.search.space import TABLE1, dimensions, suggest
from fer3d.search.study import (
    SearchError,
    SearchSettings,
    best_config,
    create_or_load,
    load_study,
    run_search,
)

__all__ = [
    "TABLE1",
    "Objective",
    "SearchError",
    "SearchSettings",
    "best_config",
    "best_reachable",
    "cannot_reach",
    "create_or_load",
    "dimensions",
    "load_study",
    "run_search",
    "suggest",
]
