"""``compare``: significance tests between two finished runs on the same folds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fer3d.cli.errors import UserError


def compare(
    result_a: Annotated[Path, typer.Argument(help="Run folder of `fer3d evaluate` (A)")],
    result_b: Annotated[
        Path, typer.Argument(help="Run folder of `fer3d evaluate` (B), same cache and folds")
    ],
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals")] = 0.95,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the tests as JSON here")] = None,
) -> None:
    """Paired t, Wilcoxon, Nadeau-Bengio and McNemar tests between two results on the same folds."""
    from fer3d.atomic import check_output_file, json_keys, write_json_atomic
    from fer3d.evaluation.crossval import load_result
    from fer3d.evaluation.stats import IncomparableResultsError, format_comparison
    from fer3d.evaluation.stats import compare as compare_results

    names = (str(result_a), str(result_b))
    if json_out is not None:  # refused before the tests run, so a wrong path costs nothing
        check_output_file(json_out, json_keys("a", "b", "tests"), "comparison JSON")
    try:
        comparison = compare_results(load_result(result_a), load_result(result_b), confidence, names)
    except IncomparableResultsError as err:
        raise UserError(str(err)) from None
    typer.echo(format_comparison(comparison, names, confidence))
    if json_out is not None:
        write_json_atomic(json_out, {"a": names[0], "b": names[1], **comparison.to_dict()})


def register(app: typer.Typer) -> None:
    app.command()(compare)
