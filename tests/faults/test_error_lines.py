"""The one-line errors of the CLI for failures outside fer3d: the disk, the database, a library."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from fer3d.cli import app
from fer3d.cli.errors import error_line
from fer3d.data.errors import BadInputError

ARGV = ["fer3d", "train", "cache", "-o", "runs/model"]


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/ro/model"),
            "fer3d: error: /ro/model: permission denied (choose a folder you can write to",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/mnt/x"),
            "fer3d: error: /mnt/x: read-only file system (",
        ),
        (
            OSError(errno.ENOSPC, "No space left on device", "/d/a.npy"),
            "fer3d: error: /d/a.npy: no space left",
        ),
        (OSError(errno.EFBIG, "File too large"), "fer3d: error: runs/model: file too large"),
        (
            OSError("34560 requested and 896 written"),
            "fer3d: error: runs/model: could not write all the data",
        ),
    ],
)
def test_disk_errors_name_the_path_and_the_fix(err, expected):
    line = error_line(err, app, ARGV)
    assert line.startswith(expected) and line.endswith(")"), line


def test_safetensors_error_reads_its_os_error_code():
    from safetensors import SafetensorError

    err = SafetensorError("Error while serializing: I/O error: File too large (os error 27)")
    line = error_line(err, app, ARGV)
    assert line.startswith("fer3d: error: runs/model: file too large") and line.endswith(")"), line


def test_database_errors_behind_a_wrapper_name_the_storage_without_its_password():
    try:
        try:
            raise sqlite3.OperationalError("disk I/O error")
        except sqlite3.OperationalError as inner:
            raise RuntimeError("commit failed") from inner
    except RuntimeError as err:
        line = error_line(err, app, ["fer3d", "search", "c", "--storage", "postgresql://u:secret@h/db"])
    assert line.startswith("fer3d: error: postgresql://u:***@h/db: database error: disk I/O error (")
    assert "secret" not in line


def test_skip_bad_is_offered_only_by_commands_that_have_it():
    err = BadInputError("v.mp4", "video cannot be opened", "re-encode it or use --skip-bad")
    assert error_line(err, app, ["fer3d", "prepare", "data"]).endswith("(re-encode it or use --skip-bad)")
    assert (
        error_line(err, app, ["fer3d", "predict", "v.mp4"])
        == "fer3d: error: v.mp4: video cannot be opened (re-encode it)"
    )
