"""Classification metrics over pooled held-out predictions."""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``[true, predicted]`` counts."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix


def per_class_recall(matrix: np.ndarray) -> np.ndarray:
    totals = matrix.sum(axis=1)
    return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    labels = np.asarray(labels)
    return float((labels == np.asarray(predictions)).mean()) if len(labels) else float("nan")


def format_confusion(matrix: np.ndarray, class_names: tuple[str, ...] | list[str]) -> str:
    """A plain-text confusion matrix with per-class recall, rows = true class."""
    names = [n[:9] for n in class_names]
    width = max(9, *(len(n) for n in names))
    header = "true \\ pred".ljust(width) + " " + " ".join(n.rjust(width) for n in names) + "   recall"
    lines = [header]
    recall = per_class_recall(matrix)
    for name, row, r in zip(names, matrix, recall, strict=False):
        cells = " ".join(str(v).rjust(width) for v in row)
        lines.append(f"{name.ljust(width)} {cells}   {'n/a' if np.isnan(r) else f'{100 * r:6.2f}%'}")
    return "\n".join(lines)
