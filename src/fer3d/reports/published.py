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


def published(dataset: str, protocol: str) -> str:
    value = PUBLISHED.get((dataset, protocol))
    return f"{value:.2f}%" if value is not None else "not in paper"
