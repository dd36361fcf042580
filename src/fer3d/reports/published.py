"""Numbers published in the paper, for reference beside measured ones; never mixed with them.

Only the values known exactly are given; the transfer rows of Table 6 are referred to the paper
rather than re-typed from memory.
"""

from __future__ import annotations

PUBLISHED_LABEL = "published, not measured"

# (dataset, protocol) -> pooled accuracy in percent, as printed in the paper
PUBLISHED: dict[tuple[str, str], float] = {
    ("ckplus", "loso"): 97.56,  # Table 3
    ("ckplus", "kfold"): 100.0,  # Table 3
    ("oulu", "kfold"): 84.25,  # Table 5
}

TABLE_OF_DATASET = {"ckplus": "Table 3 (CK+)", "oulu": "Table 5 (Oulu-CASIA)"}

TRANSFER_PUBLISHED = "see paper"


def published(dataset: str, protocol: str, n_folds: int | None = None) -> str:
    """The paper's number for this dataset and protocol; its k-fold numbers are for k = 10 only."""
    if protocol == "kfold" and n_folds not in (None, 10):
        return "not in paper (paper: 10-fold)"
    value = PUBLISHED.get((dataset, protocol))
    return f"{value:.2f}%" if value is not None else "not in paper"
