"""Report figures as matplotlib ``Figure`` objects on the Agg canvas (no display, no pyplot state)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from optuna.trial import FrozenTrial, TrialState
from statsmodels.stats.proportion import proportion_confint
from torch import nn

from fer3d.config import ExperimentConfig
from fer3d.evaluation.crossval import CVResult
from fer3d.models import build_model


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def message_figure(text: str, width: float = 6, height: float = 2) -> Figure:
    """Said plainly in the figure when there is not enough data to draw it."""
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return fig


def trial_accuracy(trial: FrozenTrial) -> float | None:
    """A finished trial's pooled accuracy; for a pruned one the accuracy over the folds it ran."""
    if trial.state == TrialState.COMPLETE and trial.value is not None:
        return float(trial.value)
    value = trial.user_attrs.get("pooled_accuracy")
    if value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    return None if value is None else float(value)


def search_scatter(study: optuna.Study, threshold: float | None = None) -> Figure:
    """Each trial's accuracy against its number, pruned trials apart (the paper's Figure 2)."""
    fig = new_figure(7.5, 4)
    ax = fig.add_subplot()
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    done = [(t.number, trial_accuracy(t)) for t in trials if t.state == TrialState.COMPLETE]
    pruned = [(t.number, trial_accuracy(t)) for t in trials if t.state == TrialState.PRUNED]
    pruned = [(n, a) for n, a in pruned if a is not None]
    if done:
        x, y = zip(*done, strict=False)
        ax.scatter(x, 100 * np.array(y), color="tab:blue", label=f"completed ({len(done)})", zorder=3)
        best = max(done, key=lambda p: p[1])
        ax.scatter(
            [best[0]],
            [100 * best[1]],
            s=160,
            facecolors="none",
            edgecolors="tab:red",
            linewidths=2,
            label=f"best: trial {best[0]}, {100 * best[1]:.2f}%",
            zorder=4,
        )
    if pruned:
        x, y = zip(*pruned, strict=False)
        ax.scatter(
            x, 100 * np.array(y), color="0.6", marker="x", label=f"pruned ({len(pruned)}), accuracy so far"
        )
    if threshold is not None:
        ax.axhline(
            100 * threshold,
            color="tab:green",
            ls="--",
            lw=1,
            label=f"pruning threshold {100 * threshold:.1f}%",
        )
    ax.set_xlabel("trial number")
    ax.set_ylabel("pooled accuracy (%)")
    ax.set_title(f"search {study.study_name}: accuracy of each configuration")
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside right upper")
    return fig


def importances(study: optuna.Study) -> tuple[Figure, dict[str, float]]:
    """fANOVA parameter importances over the completed trials."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return message_figure(
            f"parameter importances need at least 2 completed trials ({len(complete)} so far)"
        ), {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as err:
        return message_figure(f"parameter importances unavailable: {err}"), {}
    fig = new_figure(6.5, 0.4 * len(values) + 1.2)
    ax = fig.add_subplot()
    names = list(values)[::-1]
    ax.barh(names, [values[n] for n in names], color="tab:blue")
    ax.set_xlabel("fANOVA importance (share of variance)")
    ax.set_title(f"parameter importances ({len(complete)} completed trials)")
    return fig, dict(values)


def slices(study: optuna.Study) -> Figure:
    """Accuracy against each parameter's value, one panel per parameter (completed trials)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    names = sorted({p for t in complete for p in t.params})
    if not names:
        return message_figure("no completed trial with parameters to slice")
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig = new_figure(3.2 * cols, 2.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        pairs = [
            (t.params[name], 100 * t.value) for t in complete if name in t.params and t.value is not None
        ]
        values = [p[0] for p in pairs]
        if (
            all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            and len(set(values)) > 5
        ):
            ax.scatter(
                values,
                [p[1] for p in pairs],
                c=[t.number for t in complete if name in t.params],
                cmap="viridis",
                s=18,
            )
        else:  # categorical: jittered columns
            numeric = all(isinstance(v, (int, float)) for v in values)
            cats = [str(v) for v in sorted(set(values), key=float if numeric else str)]
            rng = np.random.default_rng(0)
            x = [cats.index(str(v)) + rng.uniform(-0.12, 0.12) for v in values]
            ax.scatter(x, [p[1] for p in pairs], s=18, color="tab:blue")
            ax.set_xticks(range(len(cats)), cats, rotation=30, fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.supylabel("accuracy (%)")
    return fig


def fold_accuracies(result: CVResult, title: str) -> Figure:
    """Per-fold accuracy with 95% Wilson intervals, and the pooled accuracy with its interval."""
    folds = sorted(result.folds, key=lambda f: f.fold)
    n = np.array([len(f.test_indices) for f in folds])
    correct = np.array([f.correct for f in folds])
    acc = correct / np.maximum(n, 1)
    low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
    fig = new_figure(max(6.0, 0.25 * len(folds) + 2), 3.6)
    ax = fig.add_subplot()
    x = np.arange(len(folds))
    ax.errorbar(
        x,
        100 * acc,
        yerr=[
            100 * np.clip(acc - low, 0, None),
            100 * np.clip(high - acc, 0, None),
        ],  # rounding can dip below 0
        fmt="o",
        color="tab:blue",
        ecolor="0.6",
        capsize=2,
        label="fold accuracy, 95% Wilson CI",
    )
    total, hits = int(n.sum()), int(correct.sum())
    p_low, p_high = proportion_confint(hits, total, alpha=0.05, method="wilson")
    ax.axhline(
        100 * hits / total,
        color="tab:red",
        lw=1.5,
        label=f"pooled {100 * hits / total:.2f}% [{100 * p_low:.1f}, {100 * p_high:.1f}]",
    )
    ax.axhspan(100 * p_low, 100 * p_high, color="tab:red", alpha=0.12)
    ax.set_xticks(x, [str(f.fold) for f in folds], fontsize=7 if len(folds) > 20 else 9)
    ax.set_xlabel("fold")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def confusion(result: CVResult, title: str) -> Figure:
    matrix = result.confusion()
    names = list(result.class_names)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    size = 1.0 + 0.7 * len(names)
    fig = new_figure(size + 1.5, size)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                f"{matrix[i, j]}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="share of the true class")
    return fig


def architecture_blocks(config: ExperimentConfig, num_classes: int, in_channels: int) -> list[dict[str, Any]]:
    """The layers of the model built from ``config``, read from the module itself (not re-derived)."""
    model = build_model(config, num_classes, in_channels)
    blocks: list[dict[str, Any]] = [
        {
            "kind": "input",
            "text": f"input\n{in_channels}x{config.input.frames}x{config.input.size}x{config.input.size}",
            "width": in_channels,
        }
    ]
    stage: list[dict[str, Any]] = []  # convs since the last pool: named conv3a, conv3b, ... as in C3D
    n_stage = 1
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            kt, kh, kw = module.kernel_size
            stage.append(
                {
                    "kind": "conv",
                    "width": module.out_channels,
                    "text": f"{module.out_channels}\n{kt}x{kh}x{kw}",
                }
            )
            blocks.append(stage[-1])
        elif isinstance(module, (nn.MaxPool3d, nn.AvgPool3d)):
            for i, block in enumerate(stage):
                suffix = "abcdefgh"[i] if len(stage) > 1 else ""
                block["text"] = f"conv{n_stage}{suffix}\n" + block["text"]
            stage, n_stage = [], n_stage + 1
            kernel = (
                module.kernel_size if isinstance(module.kernel_size, tuple) else (module.kernel_size,) * 3
            )
            kind = "max" if isinstance(module, nn.MaxPool3d) else "avg"
            blocks.append({"kind": "pool", "text": f"{kind}\npool\n{'x'.join(map(str, kernel))}", "width": 0})
        elif isinstance(module, nn.Linear):
            blocks.append({"kind": "fc", "text": f"fc\n{module.out_features}", "width": module.out_features})
    blocks[-1]["kind"] = "out"
    blocks[-1]["text"] = f"classes\n{num_classes}"
    return blocks


COLORS = {"input": "#dddddd", "conv": "#9ecae1", "pool": "#fdd0a2", "fc": "#a1d99b", "out": "#fc9272"}


def architecture(config: ExperimentConfig, num_classes: int, in_channels: int, title: str = "") -> Figure:
    """Boxes left to right, height growing with the log of the filter count."""
    blocks = architecture_blocks(config, num_classes, in_channels)
    fig = new_figure(0.62 * len(blocks) + 1, 3.6)
    ax = fig.add_subplot()
    top = max(math.log2(max(b["width"], 2)) for b in blocks)
    for i, block in enumerate(blocks):
        height = 0.6 if block["kind"] == "pool" else 0.8 + 2.2 * math.log2(max(block["width"], 2)) / top
        ax.add_patch(
            FancyBboxPatch(
                (i - 0.4, -height / 2),
                0.8,
                height,
                boxstyle="round,pad=0.02",
                facecolor=COLORS[block["kind"]],
                edgecolor="0.3",
            )
        )
        ax.text(i, 0, block["text"], ha="center", va="center", fontsize=6.5)
        if i:
            ax.annotate("", (i - 0.42, 0), (i - 0.58, 0), arrowprops={"arrowstyle": "->", "color": "0.4"})
    ax.set_xlim(-0.6, len(blocks) - 0.4)
    ax.set_ylim(-1.8, 1.8)
    ax.axis("off")
    m = config.model
    ax.set_title(
        title
        or f"C3D-BN: {m.activation}, temporal kernel {m.temporal_kernel}, {m.pooling} pooling, "
        f"dropout {m.dropout:.2f}, width x{m.width:g}",
        fontsize=9,
    )
    return fig
