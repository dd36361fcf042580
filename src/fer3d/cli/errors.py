"""Turn expected errors into one clear line and exit code 2, never a bare traceback."""

from __future__ import annotations

import errno
import inspect
import re
import sys
import warnings

import typer

from fer3d.config import ConfigError
from fer3d.data.errors import BadInputError, InputWarning


class UserError(Exception):
    """A mistake in how a command was called; the message says what to do instead."""


INTERRUPTED = "fer3d: interrupted; finished work is saved and the same command resumes it"
EXPECTED = (BadInputError, ConfigError, UserError)

# errno -> (what went wrong, how to fix it), for errors of the disk rather than of fer3d
_DISK_ERRORS = {
    errno.EACCES: ("permission denied", "choose a folder you can write to, or change its permissions"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write to, or change its permissions"),
    errno.EROFS: ("read-only file system", "write the output to a writable disk"),
    errno.ENOSPC: ("no space left on the disk", "free some space or write the output to another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or write the output to another disk"),
    errno.EFBIG: (
        "file too large (disk full or file size limit)",
        "free some space, raise the file size limit with ulimit -f, or write the output elsewhere",
    ),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.EISDIR: ("is a folder, not a file", "check the path"),
    errno.ENAMETOOLONG: ("file name too long", "choose a shorter path"),
    errno.EIO: ("input/output error", "check the disk"),
}
_OUTPUT_OPTIONS = ("-o", "--output", "--search-dir")
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's text for a write cut short
_DATABASE_ERRORS = ("OperationalError", "DatabaseError", "InterfaceError")


def safetensors_os_error(err: Exception, path: str | None) -> OSError:
    """An OSError for a safetensors write error, whose text holds the OS error code (e.g. a full disk)."""
    found = re.search(r"(?:code: |os error )(\d+)", str(err))
    code = int(found.group(1)) if found else errno.EIO
    return OSError(code, _DISK_ERRORS.get(code, ("write failed", ""))[0], path)


def _argv_path(argv: list[str]) -> str:
    """The output (``-o``) or the first argument of the command, for OS errors that name no file."""
    for i, arg in enumerate(argv[:-1]):
        if arg in _OUTPUT_OPTIONS:
            return argv[i + 1]
    for arg in argv[1:]:
        if arg.startswith("--output="):
            return arg.split("=", 1)[1]
    positional = [a for a in argv[1:] if not a.startswith("-")]
    return positional[0] if positional else "."


def describe_os_error(err: OSError, argv: list[str] | None = None) -> str:
    """``<path>: <what> (<fix>)`` for an error of the file system."""
    path = err.filename if err.filename is not None else _argv_path(argv if argv is not None else sys.argv)
    if err.errno in _DISK_ERRORS:
        what, fix = _DISK_ERRORS[err.errno]
    elif err.errno is not None:
        what, fix = err.strerror or "input/output error", "check the path and the disk"
    elif _SHORT_WRITE.search(str(err)):
        what = f"could not write all the data ({err}): the disk is full or a file size limit was reached"
        fix = "free some space, raise the file size limit with ulimit -f, or write the output elsewhere"
    else:  # raised by fer3d or a library with a message of its own
        text = str(err)
        if "(" in text or isinstance(err, FileNotFoundError):
            return text
        return f"{text} (check that the folder is writable and the disk has space)"
    return f"{path}: {what} ({fix})"


def _is_safetensors_error(err: Exception) -> bool:
    return type(err).__name__ == "SafetensorError"


def _database_error(err: BaseException) -> BaseException | None:
    """The SQL database's error behind ``err`` (SQLAlchemy's or sqlite3's, perhaps wrapped by Optuna)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__ or ""
        if type(current).__name__ in _DATABASE_ERRORS and module.split(".")[0] in ("sqlalchemy", "sqlite3"):
            return current
        current = current.__cause__ or current.__context__
    return None


def _storage_of(argv: list[str]) -> str:
    """The ``--storage`` URL of the command (its password hidden), else its output folder."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "--storage":
            return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", argv[i + 1])
    return _argv_path(argv)


def describe_database_error(err: BaseException, argv: list[str]) -> str:
    """``<storage>: database error: <first line> (<fix>)`` for a study storage that failed."""
    orig = getattr(err, "orig", None) or err
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return (
        f"{_storage_of(argv)}: database error: {first} (check that the disk has space and the folder is "
        "writable, or that the database server is running; the same command resumes)"
    )


def _command_takes(app: typer.Typer, argv: list[str], parameter: str) -> bool:
    """Whether the command named in ``argv`` has ``parameter`` (e.g. ``skip_bad``)."""
    name = next((a for a in argv[1:] if not a.startswith("-")), None)
    for command in app.registered_commands:
        callback = command.callback
        if callback is None or (command.name or callback.__name__.replace("_", "-")) != name:
            continue
        return parameter in inspect.signature(callback).parameters
    return False


def error_line(err: Exception, app: typer.Typer | None = None, argv: list[str] | None = None) -> str:
    """The one line printed for an expected error: ``fer3d: error: <path>: <what> (<fix>)``."""
    argv = sys.argv if argv is None else argv
    if isinstance(err, BadInputError):
        skip_hint = app is None or _command_takes(app, argv, "skip_bad")
        return f"fer3d: error: {err.message(skip_hint=skip_hint)}"
    if isinstance(err, OSError):
        return f"fer3d: error: {describe_os_error(err, argv)}"
    if _is_safetensors_error(err):
        return f"fer3d: error: {describe_os_error(safetensors_os_error(err, None), argv)}"
    database = _database_error(err)
    if database is not None:
        return f"fer3d: error: {describe_database_error(database, argv)}"
    return f"fer3d: error: {err}"


def show_input_warnings() -> None:
    """Print fer3d's input warnings (e.g. a truncated video) as ``fer3d: warning: ...`` lines."""
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, InputWarning):
            print(f"fer3d: warning: {message}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def run_app(app: typer.Typer) -> None:
    """Run the CLI: expected errors become one line and exit code 2 (the process's one entry point)."""
    show_input_warnings()
    try:
        app(standalone_mode=False)
    except EXPECTED as err:
        print(error_line(err, app), file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # a read-only folder, a full disk, a missing file
        print(error_line(err, app), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as err:  # click usage errors arrive here in non-standalone mode
        if _is_safetensors_error(err) or _database_error(err) is not None:
            print(error_line(err, app), file=sys.stderr)
            sys.exit(2)
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
