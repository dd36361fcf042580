"""Bad-input errors that name the file, and the skip log used by ``--skip-bad``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# ", or use --skip-bad" and the like at the end of a fix: offered only where the command has the option
_SKIP_HINT = re.compile(r"(?:,|;)?\s*(?:\bor\s+)?(?:\buse\s+)?--skip-bad\b(?:\s+to\s+[^,;]*)?\s*$")


def without_skip_hint(fix: str) -> str:
    """``fix`` without its closing suggestion of ``--skip-bad``."""
    return _SKIP_HINT.sub("", fix).strip(" ,;")


class BadInputError(Exception):
    """One input file or folder is unusable. ``str(err)`` names it, says what is wrong and how to fix it."""

    def __init__(self, path: str | Path, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(self.message())

    def message(self, *, skip_hint: bool = True) -> str:
        """``<path>: <problem> (<fix>)``; ``skip_hint=False`` for a command that has no ``--skip-bad``."""
        fix = self.fix if skip_hint else without_skip_hint(self.fix)
        message = f"{self.path}: {self.problem}"
        if fix:
            message += f" ({fix})"
        return message


class DatasetLayoutError(BadInputError):
    """The root folder is not a dataset of the requested format."""


class InputWarning(UserWarning):
    """An input that was used but is not whole (e.g. a truncated video); the text names the file."""


@dataclass
class Skip:
    path: str
    reason: str


@dataclass
class SkipLog:
    """Collects bad inputs. Without ``skip_bad`` the first one is raised; nothing is ever dropped silently."""

    skip_bad: bool = False
    skipped: list[Skip] = field(default_factory=list)

    def handle(self, err: BadInputError) -> None:
        if not self.skip_bad:
            raise err
        fix = without_skip_hint(err.fix)  # it was skipped: "or use --skip-bad" says nothing here
        self.skipped.append(Skip(err.path, err.problem + (f" ({fix})" if fix else "")))

    def to_list(self) -> list[dict[str, str]]:
        return [{"path": s.path, "reason": s.reason} for s in self.skipped]
