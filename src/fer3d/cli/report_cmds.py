"""``report``: an HTML page and its Markdown twin from finished runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Folders of evaluate, search, transfer or nested runs")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Report folder")] = Path("runs/report"),
) -> None:
    """Write report.html (self-contained) and report.md with figures and Tables 3, 5 and 6."""
    from fer3d.reports import build_report

    html_path, md_path = build_report(run_dirs, output)
    typer.echo(f"report: {html_path.resolve()}\nmarkdown: {md_path.resolve()}")


def register(app: typer.Typer) -> None:
    app.command()(report)
