"""The organisation's directory (Entra ID through Microsoft Graph; a JSON document locally)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DirectoryUser:
    object_id: str
    mail: str | None  # None: a member without a mailbox (asked through Teams only)
    display_name: str = ""


class DirectoryError(Exception):
    """The directory could not answer (transient on the wire; callers decide)."""


class Directory(Protocol):
    def list_group_members(self, group_id: str) -> list[DirectoryUser]:
        """The group's transitive user members (nested groups expanded)."""
        ...

    def member_groups(self, object_id: str, group_ids: Sequence[str]) -> list[str]:
        """Which of ``group_ids`` the user ``object_id`` is a transitive member of."""
        ...
