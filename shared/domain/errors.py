"""Typed errors that tell the runtime what to do next.

- ``InputError``: the input is wrong; retrying cannot help. Record the rejection, complete.
- ``TransientError``: a dependency is unavailable; raise so the platform retries, then dead-letters.
- ``TerminalError``: the input was fine but the work cannot be done; record and stop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One reason an input was refused, with a stable code and a sentence for humans."""

    code: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        return f"{self.code}{where}: {self.message}"


class ClearanceError(Exception):
    """Base of every error Clearance raises on purpose."""


class InputError(ClearanceError):
    """The input is invalid. Carries every violation found, not only the first."""

    def __init__(self, violations: list[Violation] | tuple[Violation, ...]) -> None:
        if not violations:
            raise ValueError("InputError needs at least one violation")
        self.violations: tuple[Violation, ...] = tuple(violations)
        super().__init__("; ".join(str(v) for v in self.violations))


class TransientError(ClearanceError):
    """A dependency failed in a way that a retry may fix."""


class TerminalError(ClearanceError):
    """The work cannot be done, and a retry will not change that."""


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed. The message names every offending key."""
