"""``report.html`` opened in headless Chromium: it renders, every figure decodes, the console stays clean.

Chromium comes from ``scripts/chromium.sh`` (run by ``scripts/test_services.sh``). `fer3d predict` writes
no HTML (tables, a PNG timeline and an MP4), so the report is the only page to check.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from fer3d.evaluation.crossval import cross_validate
from fer3d.presets import get_config
from fer3d.reports import build_report

from .cdp import Chromium


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = os.environ.get("FER3D_TEST_CHROMIUM") or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    if binary:
        return binary
    reason = os.environ.get("FER3D_TEST_CHROMIUM_MISSING") or (
        "Chromium not found: run the suite through scripts/run_tests.sh, which installs it as root"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def write_study(folder: Path) -> None:
    """A small study shaped like `fer3d search` writes (enough trials for fANOVA), some pruned."""
    storage = f"sqlite:///{(folder / 'search.db').resolve()}"
    study = optuna.create_study(study_name="browser", storage=storage, direction="maximize")
    study.set_user_attr("identity", {"threshold": 0.6})
    distributions = {
        "temporal_kernel": CategoricalDistribution([1, 3]),
        "dropout": FloatDistribution(0.0, 1.0),
    }
    base = get_config("oulu-paper", "tiny")
    rng = np.random.default_rng(0)
    for number in range(8):
        params = {"temporal_kernel": [1, 3][number % 2], "dropout": float(rng.uniform())}
        config = base.with_overrides({f"model.{k}": v for k, v in params.items()})
        accuracy = 0.4 + 0.2 * (params["temporal_kernel"] == 3) + 0.1 * rng.uniform()
        pruned = number % 4 == 3
        study.add_trial(
            create_trial(
                state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                value=None if pruned else accuracy,
                params=params,
                distributions=distributions,
                intermediate_values={0: accuracy},
                user_attrs={"config": config.to_dict(), "fold_accuracies": [accuracy], "wall_seconds": 1.0},
            )
        )


def test_report_renders_with_every_figure_and_no_console_error(chromium, fake_store, tmp_path: Path) -> None:
    (tmp_path / "search").mkdir()
    write_study(tmp_path / "search")
    config = get_config("oulu-paper", "tiny", {"train.epochs": 1})
    cross_validate(fake_store, config, "kfold", k=2, out_dir=tmp_path / "eval", device="cpu", progress=False)
    html_path, _ = build_report([tmp_path / "search", tmp_path / "eval"], tmp_path / "report", progress=False)
    figures = len(list((tmp_path / "report" / "figures").glob("*.png")))

    with Chromium(chromium) as browser:
        page = browser.open(html_path)
    assert page.errors == []
    facts = page.facts
    assert facts["title"] == "fer3d report" and facts["text"] > 500 and facts["height"] > 1000
    assert facts["tables"] >= 3  # Tables 3, 5 and 6
    assert len(facts["images"]) == figures >= 5
    for image in facts["images"]:
        assert image["complete"] and image["width"] > 100 and image["height"] > 100, image


def test_the_browser_check_sees_a_broken_page(chromium, tmp_path: Path) -> None:
    """The same check on a page with a missing image and a script error reports both."""
    page_path = tmp_path / "broken.html"
    page_path.write_text(
        "<!doctype html><html><head><title>broken</title></head><body><p>text</p>"
        '<img src="missing.png"><img src="data:image/png;base64,AAAA">'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    with Chromium(chromium) as browser:
        page = browser.open(page_path)
    assert [i["width"] for i in page.facts["images"]] == [0, 0]
    text = "\n".join(page.errors)
    assert "boom" in text and "undefinedFunction" in text and "missing.png" in text, text
