"""Bad-input errors that name the file, and the skip log used by ``--skip-bad``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class BadInputError(Exception):
    """One input file or folder is unusable. ``str(err)`` names it, says what is wrong and how to fix it."""

    def __init__(self, path: str | Path, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        message = f"{self.path}: {problem}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)


class DatasetLayoutError(BadInputError):
    """The root folder is not a dataset of the requested format."""


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
        self.skipped.append(Skip(err.path, f"{err.problem}" + (f" ({err.fix})" if err.fix else "")))

    def to_list(self) -> list[dict[str, str]]:
        return [{"path": s.path, "reason": s.reason} for s in self.skipped]
