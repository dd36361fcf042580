"""Numbers published in the paper, for reference beside measured ones; never mixed with them."""

from __future__ import annotations

from dataclasses import dataclass

PUBLISHED_LABEL = "published, not measured"

# (dataset, protocol) -> pooled accuracy in percent, as printed in the paper
PUBLISHED: dict[tuple[str, str], float] = {
    ("ckplus", "loso"): 97.56,  # Table 3
    ("ckplus", "kfold"): 100.0,  # Table 3
    ("oulu", "kfold"): 84.25,  # Table 5
}

TABLE_OF_DATASET = {"ckplus": "Table 3 (CK+)", "oulu": "Table 5 (Oulu-CASIA)"}
DATASET_TITLES = {"ckplus": "CK+", "oulu": "Oulu-CASIA"}


@dataclass(frozen=True)
class TransferFigure:
    """One row of the paper's Table 6: an architecture searched on one dataset, evaluated on another
    (subject 10-fold, mean of the folds), trained from scratch or fine-tuned from the source dataset."""

    optimised_on: str  # dataset key, as a cache's reader names it
    evaluated_on: str
    fine_tuned: bool
    accuracy: float  # percent

    @property
    def post_processing(self) -> str:
        return f"fine-tuned on {DATASET_TITLES[self.evaluated_on]}" if self.fine_tuned else "none"


# Table 6, in the paper's order. The paper calls the differences significant by a p-value test without
# giving the values.
TABLE6: tuple[TransferFigure, ...] = (
    TransferFigure("ckplus", "ckplus", False, 100.0),
    TransferFigure("oulu", "ckplus", False, 90.76),
    TransferFigure("oulu", "ckplus", True, 91.14),
    TransferFigure("oulu", "oulu", False, 84.25),
    TransferFigure("ckplus", "oulu", False, 77.08),
    TransferFigure("ckplus", "oulu", True, 79.75),
)


def published(dataset: str, protocol: str, n_folds: int | None = None) -> str:
    """The paper's number for this dataset and protocol; its k-fold numbers are for k = 10 only."""
    if protocol == "kfold" and n_folds not in (None, 10):
        return "not in paper (paper: 10-fold)"
    value = PUBLISHED.get((dataset, protocol))
    return f"{value:.2f}%" if value is not None else "not in paper"


def published_transfer(source: str, target: str, fine_tuned: bool, n_folds: int | None = None) -> str:
    """The paper's Table 6 figure for a configuration tuned on ``source`` and evaluated on ``target``."""
    figure = next(
        (f for f in TABLE6 if (f.optimised_on, f.evaluated_on, f.fine_tuned) == (source, target, fine_tuned)),
        None,
    )
    if figure is None:
        return "not in paper"
    if n_folds not in (None, 10):
        return "not in paper (paper: 10-fold)"
    return f"{figure.accuracy:.2f}%"
