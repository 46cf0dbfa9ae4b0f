"""The local stack's directory: one JSON document standing in for Entra ID.

``{"tenant_id": "...", "users": [{"object_id", "mail", "display_name"}],
"groups": {"<group id>": {"display_name": "...", "members": ["<user or group id>", ...]}}}``.
Nested groups are expanded (transitive membership, as Graph's ``transitiveMembers``). The file is
read on every call: it is small, and tests edit it while the hosts run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.ports.directory import DirectoryError, DirectoryUser

MAX_DEPTH = 16


class FileDirectory:
    def __init__(self, path: Path) -> None:
        self._path = path

    def _doc(self) -> dict[str, Any]:
        try:
            doc = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DirectoryError(f"directory file {self._path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise DirectoryError(f"directory file {self._path}: not an object")
        return doc

    def list_group_members(self, group_id: str) -> list[DirectoryUser]:
        doc = self._doc()
        users = {
            str(u["object_id"]).lower(): u for u in doc.get("users", []) if isinstance(u, dict)
        }
        groups = {str(k).lower(): v for k, v in (doc.get("groups") or {}).items()}
        found: dict[str, DirectoryUser] = {}
        seen: set[str] = set()

        def expand(gid: str, depth: int) -> None:
            if gid in seen or depth > MAX_DEPTH:
                return
            seen.add(gid)
            for member in (groups.get(gid) or {}).get("members", []):
                oid = str(member).lower()
                if oid in users:
                    u = users[oid]
                    found.setdefault(
                        oid, DirectoryUser(oid, u.get("mail"), str(u.get("display_name", "")))
                    )
                elif oid in groups:
                    expand(oid, depth + 1)

        expand(group_id.lower(), 0)
        return list(found.values())

    def member_groups(self, object_id: str, group_ids: Sequence[str]) -> list[str]:
        oid = object_id.lower()
        return [g for g in group_ids if any(u.object_id == oid for u in self.list_group_members(g))]
