"""Report generation from a tiny study and a tiny evaluate run: every figure present and non-empty."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import optuna
import pytest
from matplotlib.image import imread
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from fer3d.evaluation.crossval import cross_validate
from fer3d.presets import get_config
from fer3d.reports import build_report

DISTRIBUTIONS = {
    "activation": CategoricalDistribution(["relu", "elu", "mish"]),
    "temporal_kernel": CategoricalDistribution([1, 3, 5]),
    "dropout": FloatDistribution(0.0, 1.0),
}


def make_study(folder: Path, n: int = 14) -> None:
    """A study shaped like `fer3d search` writes: params, user attrs, some trials pruned."""
    storage = f"sqlite:///{(folder / 'search.db').resolve()}"
    study = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    study.set_user_attr("identity", {"threshold": 0.6})
    rng = np.random.default_rng(0)
    base = get_config("ckplus-paper", "tiny")
    for number in range(n):
        params = {
            "activation": ["relu", "elu", "mish"][number % 3],
            "temporal_kernel": [1, 3, 5][number % 3],
            "dropout": float(rng.uniform()),
        }
        config = base.with_overrides(
            {
                "model.activation": params["activation"],
                "model.temporal_kernel": params["temporal_kernel"],
                "model.dropout": params["dropout"],
            }
        )
        accuracy = 0.5 + 0.3 * (params["temporal_kernel"] == 3) + 0.1 * rng.uniform()
        pruned = number % 4 == 3
        folds = [accuracy] * (2 if pruned else 5)
        study.add_trial(
            create_trial(
                state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                value=None if pruned else accuracy,
                params=params,
                distributions=DISTRIBUTIONS,
                intermediate_values={i: accuracy for i in range(len(folds))},
                user_attrs={
                    "config": config.to_dict(),
                    "fold_accuracies": folds,
                    "pooled_accuracy": accuracy,
                    "pruned_at_fold": 1 if pruned else None,
                    "wall_seconds": 1.0,
                },
            )
        )


def assert_png_drawn(data: bytes, name: str) -> None:
    image = imread(io.BytesIO(data), format="png")
    assert image.shape[0] > 50 and image.shape[1] > 50, name
    assert float(np.std(image[..., :3])) > 0.02, f"{name} is blank"


def test_report_has_every_figure_and_table(fake_store, tmp_path: Path) -> None:
    search_dir = tmp_path / "search"
    search_dir.mkdir()
    make_study(search_dir)
    run_dir = tmp_path / "eval"
    config = get_config("ckplus-paper", "tiny", {"train.epochs": 1})
    cross_validate(fake_store, config, "kfold", k=3, out_dir=run_dir, device="cpu", progress=False)

    html_path, md_path = build_report([search_dir, run_dir], tmp_path / "report", progress=False)
    figures = {p.stem: p.read_bytes() for p in (tmp_path / "report" / "figures").glob("*.png")}
    for kind in ("scatter", "importances", "slices", "architecture", "folds", "confusion"):
        names = [n for n in figures if n.endswith(kind)]
        assert names, f"no {kind} figure in {sorted(figures)}"
        for name in names:
            assert_png_drawn(figures[name], name)
    assert sum(n.endswith("architecture") for n in figures) == 2  # the search's best and the evaluated one

    html = html_path.read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(embedded) == len(figures)  # self-contained: every figure inline
    assert all(base64.b64decode(e) in figures.values() for e in embedded)
    for text in (
        "Table 3 (CK+)",
        "Table 5 (Oulu-CASIA)",
        "Table 6 (transfer)",
        "published, not measured",
        "97.56%",
        "84.25%",
        "temporal_kernel",
    ):
        assert text in html, text
    markdown = md_path.read_text()
    for name in figures:
        assert f"figures/{name}.png" in markdown


def test_report_refuses_unknown_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no run.json"):
        build_report([tmp_path], tmp_path / "out", progress=False)


def test_fold_accuracy_figure_with_all_wrong_and_all_right_folds():
    """Wilson bounds at 0% and 100% can fall a rounding error outside the estimate; the figure must cope."""
    import numpy as np

    from fer3d.evaluation.crossval import CVResult, FoldResult
    from fer3d.reports.figures import fold_accuracies

    def fold(i, preds, truth):
        return FoldResult(
            i,
            list(range(i * 7, i * 7 + 7)),
            preds,
            [[1.0, 0.0]] * 7,
            float(np.mean(np.array(preds) == truth)),
            0.0,
            [],
        )

    labels = np.zeros(21, dtype=int)
    result = CVResult(
        "kfold", [fold(0, [1] * 7, 0), fold(1, [0] * 7, 0), fold(2, [0, 1] * 3 + [0], 0)], labels, ("a", "b")
    )
    figure = fold_accuracies(result, "edge cases")
    assert figure.axes


def _cv_result(n_folds: int, correct_per_fold: int, per_fold: int = 7):
    from fer3d.evaluation.crossval import CVResult, FoldResult

    folds = []
    for i in range(n_folds):
        preds = [0] * correct_per_fold + [1] * (per_fold - correct_per_fold)
        indices = list(range(i * per_fold, (i + 1) * per_fold))
        folds.append(
            FoldResult(i, indices, preds, [[0.5, 0.5]] * per_fold, correct_per_fold / per_fold, 0.0, [])
        )
    return CVResult("kfold", folds, np.zeros(n_folds * per_fold, dtype=int), ("a", "b"))


def _write_transfer(folder: Path, source: str, target: str, n_folds: int) -> None:
    """A transfer folder as `fer3d transfer` writes its transfer.json (the arm folders are optional)."""
    import json

    from fer3d.evaluation.labelmap import LabelMap
    from fer3d.evaluation.transfer import TransferResult

    arms = {"scratch": _cv_result(n_folds, 5), "finetuned": _cv_result(n_folds, 6)}
    result = TransferResult(source, target, LabelMap.by_name(("a", "b"), ("a", "b")), 0, arms)
    folder.mkdir()
    info = {"k": n_folds, "label_map": result.label_map.to_dict(), "rows": result.table6_rows()}
    (folder / "transfer.json").write_text(json.dumps(info))


def _md_rows(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(heading, 1)[1].split("\n#", 1)[0]
    return [
        [c.strip() for c in line.strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| architecture")
    ]


def test_table6_puts_the_papers_figures_beside_matching_transfer_runs(tmp_path: Path) -> None:
    _write_transfer(tmp_path / "oulu_to_ck", "oulu", "ckplus", n_folds=10)
    _write_transfer(tmp_path / "mine", "folder", "ckplus", n_folds=10)
    _, md_path = build_report(
        [tmp_path / "oulu_to_ck", tmp_path / "mine"], tmp_path / "report", progress=False
    )
    rows = _md_rows(md_path.read_text(), "Table 6 (transfer)")
    by_key = {tuple(r[:3]): r for r in rows}
    # the paper's six rows, in its order, each with its published 10-fold mean
    assert [tuple(r[:3]) for r in rows[:6]] == [
        ("CK+", "CK+", "none"),
        ("Oulu-CASIA", "CK+", "none"),
        ("Oulu-CASIA", "CK+", "fine-tuned on CK+"),
        ("Oulu-CASIA", "Oulu-CASIA", "none"),
        ("CK+", "Oulu-CASIA", "none"),
        ("CK+", "Oulu-CASIA", "fine-tuned on Oulu-CASIA"),
    ]
    assert [r[8] for r in rows[:6]] == ["100.00%", "90.76%", "91.14%", "84.25%", "77.08%", "79.75%"]
    # measured beside published: 5/7 and 6/7 right in every fold
    scratch, tuned = by_key[("Oulu-CASIA", "CK+", "none")], by_key[("Oulu-CASIA", "CK+", "fine-tuned on CK+")]
    assert scratch[6].startswith("71.43% [") and scratch[7] == "71.43 ± 0.00" and scratch[4] == "70"
    assert tuned[6].startswith("85.71% [") and tuned[8] == "91.14%"
    assert by_key[("CK+", "Oulu-CASIA", "none")][6] == "no run given"
    # a transfer the paper has no figure for is listed after its rows, not matched to one
    assert [r[8] for r in rows[6:]] == ["not in paper", "not in paper"]
    assert {r[0] for r in rows[6:]} == {"folder"}


def test_table6_refuses_the_papers_figure_for_other_fold_counts(tmp_path: Path) -> None:
    _write_transfer(tmp_path / "t", "ckplus", "oulu", n_folds=3)
    _, md_path = build_report([tmp_path / "t"], tmp_path / "report", progress=False)
    rows = _md_rows(md_path.read_text(), "Table 6 (transfer)")
    measured = [r for r in rows if r[4] != "-"]
    assert len(measured) == 2 and {r[8] for r in measured} == {"not in paper (paper: 10-fold)"}
