"""Who registered an Azure ML model, as the workspace recorded it (not what a tag claims)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Registrant:
    name: str | None  # creation_context.created_by: a display name, UPN or application name
    object_id: str | None = None  # the creator's Entra object id, where the service gives it


class RegistrantLookup(Protocol):
    def registrant(
        self, subscription_id: str, resource_group: str, workspace: str, name: str, version: str
    ) -> Registrant | None: ...
