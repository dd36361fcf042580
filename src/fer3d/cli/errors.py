"""Turn expected errors into one clear line and exit code 2, never a bare traceback."""

from __future__ import annotations

import sys

import typer

from fer3d.config import ConfigError
from fer3d.data.errors import BadInputError


class UserError(Exception):
    """A mistake in how a command was called; the message says what to do instead."""


INTERRUPTED = "fer3d: interrupted; finished work is saved and the same command resumes it"
EXPECTED = (BadInputError, ConfigError, UserError, FileNotFoundError)


def run_app(app: typer.Typer) -> None:
    try:
        app(standalone_mode=False)
    except EXPECTED as err:
        print(f"fer3d: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as err:  # click usage errors arrive here in non-standalone mode
        # typer vendors its own click, so match click's exceptions by their interface, not by import
        if hasattr(err, "show") and hasattr(err, "exit_code"):
            err.show()
            sys.exit(err.exit_code)
        if type(err).__name__ == "Abort":  # click wraps Ctrl-C in Abort
            if isinstance(err.__cause__, KeyboardInterrupt):
                print(INTERRUPTED, file=sys.stderr)
                sys.exit(130)
            sys.exit(1)
        raise
