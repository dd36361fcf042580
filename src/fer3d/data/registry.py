"""Dataset formats by name: ``read_dataset("ckplus", root)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fer3d.data.ckplus import CKPlusReader
from fer3d.data.errors import BadInputError, DatasetLayoutError, SkipLog
from fer3d.data.records import Dataset, DatasetReader

READERS: dict[str, type] = {"ckplus": CKPlusReader}


def register_reader(name: str, factory: type) -> None:
    READERS[name] = factory


def make_reader(fmt: str, **options: Any) -> DatasetReader:
    _import_optional_readers()
    if fmt not in READERS:
        raise BadInputError(fmt, f"unknown dataset format {fmt!r}", f"choose one of {sorted(READERS)}")
    return READERS[fmt](**options)


def read_dataset(fmt: str, root: str | Path, *, skip_bad: bool = False, **options: Any) -> Dataset:
    reader = make_reader(fmt, **options)
    if not Path(root).exists():
        raise DatasetLayoutError(root, "dataset root does not exist", "check the path")
    return reader.read(Path(root), SkipLog(skip_bad=skip_bad))


def _import_optional_readers() -> None:
    """Readers for the other formats live in their own modules and register themselves on import."""
    import importlib

    for module in ("fer3d.data.oulu", "fer3d.data.folder"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
