"""Safe output folders: fer3d writes into or replaces only a folder that is new, empty or its own output,
and a crash never leaves a file or folder that looks complete."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fer3d.data.errors import BadInputError

#: Tells whether an existing, non-empty folder is an output that the calling command wrote before.
Recogniser = Callable[[Path], bool]


class ForeignFolderError(BadInputError):
    """An output path names a folder (or file) that fer3d did not write; nothing was changed in it."""


def json_keys(*keys: str) -> Recogniser:
    """A file holding a JSON object with every one of ``keys`` is recognised (e.g. a config fer3d wrote)."""

    def recognise(file: Path) -> bool:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and all(key in data for key in keys)

    return recognise


def json_marker(name: str, key: str) -> Recogniser:
    """A folder holding ``name``, a JSON object with ``key``, is recognised (e.g. a model's marker)."""
    holds_key = json_keys(key)
    return lambda folder: holds_key(folder / name)


def any_of(*recognisers: Recogniser) -> Recogniser:
    return lambda folder: any(r(folder) for r in recognisers)


def has_entry(*names: str) -> Recogniser:
    """A folder holding any of ``names`` (a file or folder, a path relative to it) is recognised."""
    return lambda folder: any((folder / n).exists() for n in names)


def _visible_entries(folder: Path) -> list[Path]:
    # fer3d's own temporary siblings start with "." and ".tmp-"; other hidden files are the user's
    return [p for p in folder.iterdir() if ".tmp-" not in p.name]


def check_output_folder(
    path: str | Path, recognise: Recogniser, what: str, *, fix: str | None = None
) -> Path:
    """Raise :class:`ForeignFolderError` unless ``path`` is absent, an empty folder or recognised.

    ``what`` names the output for the message, e.g. "model folder"; ``fix`` replaces the default advice.
    Nothing is created or changed.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return path
    if not path.is_dir():
        raise ForeignFolderError(
            path, f"exists and is not a folder, so it cannot be the {what}", fix or "give -o a new folder"
        )
    if _visible_entries(path) and not recognise(path):
        raise ForeignFolderError(
            path,
            f"exists and holds files that are not a fer3d {what}; nothing was changed",
            fix or f"give -o a new or empty folder, or a {what} that fer3d wrote",
        )
    return path


def check_output_file(path: str | Path, recognise: Recogniser, what: str) -> Path:
    """Raise :class:`ForeignFolderError` unless ``path`` is absent or a file that ``recognise`` says the
    calling command wrote before (which it may replace). Nothing is created or changed."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return path
    if path.is_dir():
        raise ForeignFolderError(path, f"is a folder, so it cannot be the {what}", "give a file path")
    if not recognise(path):
        raise ForeignFolderError(
            path,
            f"exists and is not a {what} that fer3d wrote; nothing was changed",
            f"give a new file path, or remove {path.name} yourself",
        )
    return path


def claim_output_folder(
    path: str | Path, recognise: Recogniser, what: str, *, fix: str | None = None
) -> Path:
    """:func:`check_output_folder`, then create the folder (and its parents) if needed."""
    path = check_output_folder(path, recognise, what, fix=fix)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _new_sibling(target: Path, kind: str) -> Path:
    """A new hidden folder beside ``target``, with the permissions of any folder (umask applies)."""
    while True:
        path = target.parent / f".{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


@contextmanager
def atomic_folder(
    target: str | Path, recognise: Recogniser | None = None, what: str = "output folder"
) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces ``target`` in one rename.

    An existing ``target`` is replaced only when it is empty or ``recognise(target)`` holds: any other
    folder raises :class:`ForeignFolderError` before anything is written, so a user's folder (or a
    dataset root) given by mistake is never deleted.
    """
    target = Path(target)
    check_output_folder(target, recognise or (lambda folder: False), what)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_sibling(target, "tmp")
    try:
        yield tmp
        old = None
        if target.exists():
            # checked again: the folder may have changed while the new one was written
            check_output_folder(target, recognise or (lambda folder: False), what)
            old = _new_sibling(target, "old.tmp")
            os.replace(target, old / "previous")
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old / "previous", target)
                old.rmdir()
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it is renamed to ``path``, on any
    failure it is removed, so ``path`` is always whole: the earlier file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it into place (a partial file is removed on failure)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON beside ``path`` and rename it into place (a partial file is removed on failure)."""
    write_text_atomic(path, json.dumps(data, indent=1))
