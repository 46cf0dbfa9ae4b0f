"""What an approver decides on, beyond the facts: who is who, what changes, votes so far. Pure.

``people`` states the pusher, the registrant and the owner in canonical form and flags when the
owner label names someone else than the authenticated pusher (the label is the pusher's claim).
``changes`` diffs the requested version against the one live now: labels, resources, strategy,
image digest; a lower version than the live one is flagged as a downgrade.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.approval.record import Approval, Vote
from shared.domain.deploy.revision import Revision

_NUMERIC = re.compile(r"^\d+(\.\d+)*$")


@dataclass(frozen=True)
class Change:
    what: str
    live: str
    requested: str


def people(approval: Approval) -> list[tuple[str, str]]:
    pusher = approval.pushed_by or approval.registered_by
    rows = [
        ("Pushed by", approval.pushed_by or "none recorded"),
    ]
    if approval.registered_by:
        rows.append(("Registered by", approval.registered_by))
    owner = approval.owner
    flag = ""
    if pusher and pusher != owner:
        flag = " (not the pusher: the owner label is the pusher's claim)"
    rows.append(("Owner", owner + flag))
    return rows


def _flat(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list | tuple):
        out[prefix] = ", ".join(str(v) for v in value)
    elif value is not None:
        out[prefix] = str(value)


def _described(approval_or_live: Any) -> dict[str, str]:
    metadata = approval_or_live.metadata
    out: dict[str, str] = {}
    _flat("", metadata.model_dump(mode="json", exclude={"name"}), out)
    artifact = approval_or_live.artifact
    if artifact.kind == "image" and artifact.digest:
        out["image digest"] = str(artifact.digest)
    return out


def _version_key(version: str) -> tuple[int, ...] | None:
    core = version.split("+", 1)[0].split("-", 1)[0]
    return tuple(int(p) for p in core.split(".")) if _NUMERIC.match(core) else None


def downgrade(approval: Approval, live: Revision | None) -> bool:
    if live is None:
        return False
    new, old = _version_key(approval.metadata.version), _version_key(live.metadata.version)
    return new is not None and old is not None and new < old


def changes(approval: Approval, live: Revision | None) -> list[Change]:
    """Every field whose value differs from the live version, in a stable order."""
    if live is None:
        return []
    before, after = _described(live), _described(approval)
    return [
        Change(key, before.get(key, "-"), after.get(key, "-"))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def vote_rows(votes: Sequence[Vote]) -> list[tuple[str, str]]:
    return [
        (v.approver, f"{v.decision} at {v.at:%Y-%m-%d %H:%M} UTC ({v.established_by})")
        for v in sorted(votes, key=lambda v: v.at)
    ]
