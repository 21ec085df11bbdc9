"""Errors that reach the user as one line: what is wrong, where, and how to fix it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ToolkitError(Exception):
    """A problem with the user's input; the CLI prints it as one line and exits non-zero."""

    def __init__(
        self, where: str, problem: str, fix: str | None = None, details: list[str] | None = None
    ) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        # what a tool said before it failed (a resolver's last lines), shown under the line
        self.details = list(details or [])
        super().__init__(self.line())

    def line(self) -> str:
        text = f"{self.where}: {self.problem}"
        if self.fix:
            text += f" ({self.fix})"
        return text


class ConfigError(ToolkitError):
    """The deployment config file is malformed or invalid."""


class TcibError(ToolkitError):
    """A TCIB image definition cannot be loaded with TCIB's semantics."""


class ClassificationError(ToolkitError):
    """An RPM name is not in the classification table."""


class ScopeError(ToolkitError):
    """The images in scope name something TCIB does not define."""


class Severity(enum.Enum):
    """How `make check` treats a problem: an error fails it; a warning fails only with STRICT."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding of a check: where it is, what is wrong, how to fix it, and how serious.

    `str()` is the one line the user reads: `where: message (fix)`.
    """

    where: str
    message: str
    fix: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def is_warning(self) -> bool:
        return self.severity is Severity.WARNING

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.fix})" if self.fix else text

    def as_error(self) -> ToolkitError:
        """The problem as the exception a command stops with."""
        return ToolkitError(self.where, self.message, self.fix)


def warning(where: str, message: str, fix: str | None = None) -> Problem:
    return Problem(where, message, fix, Severity.WARNING)
