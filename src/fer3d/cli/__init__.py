"""The ``fer3d`` command line. This module only registers commands; each lives in its own module and
turns its options into a config object before calling the library."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="fer3d",
    help="Facial emotion recognition in videos with an automatically tuned 3D-CNN.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    import importlib

    for module in (
        "data_cmds",
        "eval_cmds",
        "search_cmds",
        "experiment_cmds",
        "compare_cmds",
        "report_cmds",
        "model_cmds",
    ):
        try:
            mod = importlib.import_module(f"fer3d.cli.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"fer3d.cli.{module}":
                raise
            continue
        mod.register(app)


_register()


def main() -> None:
    from fer3d.cli.errors import run_app
    from fer3d.runtime import configure_process

    configure_process()  # this command's process-wide settings, once, here
    run_app(app)
