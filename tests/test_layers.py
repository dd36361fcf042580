"""The package's imports point down its layers, and no module imports another package's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Lower layers never import higher ones; a package may import itself and anything below it. Modules of
# the base layer (configs, file writing, the bad-input error, process settings) are below everything.
BASE = ("fer3d.config", "fer3d.atomic", "fer3d.presets", "fer3d.data.errors", "fer3d.runtime")
LAYERS = (
    ("fer3d.data",),
    ("fer3d.models",),
    ("fer3d.training",),
    ("fer3d.evaluation",),
    ("fer3d.search",),
    ("fer3d.reports", "fer3d.inference"),
    ("fer3d.cli",),
)
# Module file names used twice on purpose, for the same job in two packages.
SHARED_NAMES = {"__init__.py", "errors.py"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _layer(module: str) -> tuple[int, str]:
    """(rank, the package or base module that places ``module``)."""
    for prefix in BASE:
        if _within(module, prefix):
            return 0, prefix
    for rank, packages in enumerate(LAYERS, start=1):
        for package in packages:
            if _within(module, package):
                return rank, package
    return 0, module  # fer3d itself


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) of every fer3d import, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names]
    return [item for item in found if _within(item[1], "fer3d")]


MODULES = sorted(SRC.joinpath("fer3d").rglob("*.py"))


def test_the_layers_cover_every_package() -> None:
    packages = {p.parent for p in MODULES if p.name == "__init__.py"} - {SRC / "fer3d"}
    for package in packages:
        name = _module_name(package / "__init__.py")
        placed = [p for p in (*BASE, *(p for layer in LAYERS for p in layer)) if _within(name, p)]
        assert placed, f"{name} has no layer in tests/test_layers.py"


def upward_imports(path: Path, module: str) -> list[str]:
    rank, home = _layer(module)
    wrong = []
    for line, imported, _ in _imports(path):
        other_rank, other_home = _layer(imported)
        if other_home != home and other_rank >= rank and not other_rank == rank == 0:
            wrong.append(f"{module}:{line} imports {imported} (layer {other_rank}, its own {rank})")
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_down(path: Path) -> None:
    wrong = upward_imports(path, _module_name(path))
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_no_private_names_across_packages(path: Path) -> None:
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    wrong = [
        f"{path.name}:{line} imports {name} from {imported}"
        for line, imported, names in _imports(path)
        for name in names
        if name.startswith("_") and not _within(imported, package)
    ]
    assert not wrong, "\n".join(wrong)


def test_module_names_say_what_they_hold() -> None:
    seen: dict[str, Path] = {}
    for path in MODULES:
        if path.name in SHARED_NAMES:
            continue
        assert path.name not in seen, f"two modules named {path.name}: {seen[path.name]} and {path}"
        seen[path.name] = path


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    """The check itself can fail: an import of the search from training (even inside a function) or of
    the CLI from reports is reported; a sideways import inside one package is not."""
    module = tmp_path / "m.py"
    module.write_text(
        "from fer3d.training.recipe import choose_recipe\n"
        "def f():\n    from fer3d.search.study import run_search\n"
        "import fer3d.cli.common\n"
    )
    assert len(upward_imports(module, "fer3d.training.trainer")) == 2
    assert len(upward_imports(module, "fer3d.reports.builder")) == 1
    assert upward_imports(module, "fer3d.cli.search_cmds") == []
