"""Errors that reach the user as one line: what is wrong, where, and how to fix it."""

from __future__ import annotations


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
