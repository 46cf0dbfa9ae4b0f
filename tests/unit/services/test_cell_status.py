"""The cell's status: overdue approvals, stuck rollouts, checkpoint age, from what storage holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from shared.services.cell_status import STUCK_AFTER, cell_status

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def approval(approval_id: str, age: timedelta, valid: timedelta, final: bool = False) -> Any:
    created = NOW - age
    return SimpleNamespace(
        approval_id=approval_id, created_at=created, expires_at=created + valid, is_final=final
    )


def state(model: str, version: str | None, rollout_due: datetime | None = None) -> Any:
    live = SimpleNamespace(metadata=SimpleNamespace(version=version)) if version else None
    rollout = None
    if rollout_due is not None:
        rollout = SimpleNamespace(
            next_at=rollout_due, started_at=rollout_due, deployment_id=f"dep-{model}"
        )
    return SimpleNamespace(model=model, live=live, rollout=rollout)


class Source:
    def __init__(self, **kw: Any) -> None:
        self.kw = kw

    def pending_approvals(self) -> Any:
        return self.kw.get("approvals", [])

    def deployments(self) -> Any:
        return self.kw.get("deployments", [])

    def dead_letter_depths(self) -> Any:
        return self.kw.get("dead", {})

    def last_checkpoint_at(self) -> Any:
        return self.kw.get("checkpoint")


def test_an_empty_cell() -> None:
    status = cell_status("westeurope", Source(), NOW)
    assert (status.pending, status.overdue, status.stuck, status.live) == (0, (), (), ())
    assert status.checkpoint_age_seconds is None and status.oldest_pending_seconds == 0


def test_overdue_is_past_half_the_validity_and_final_records_do_not_count() -> None:
    day = timedelta(days=1)
    source = Source(
        approvals=[
            approval("fresh", timedelta(hours=1), day),
            approval("late", timedelta(hours=13), day),
            approval("done", timedelta(hours=20), day, final=True),  # edited behind our back
        ]
    )
    status = cell_status("westeurope", source, NOW)
    assert status.pending == 2
    assert status.overdue == ("late",)
    assert status.oldest_pending_seconds == 13 * 3600


def test_a_rollout_is_stuck_only_past_its_due_time_plus_the_grace() -> None:
    source = Source(
        deployments=[
            state("a", "1.0.0"),
            state("b", "2.0.0", NOW - STUCK_AFTER - timedelta(seconds=1)),
            state("c", None, NOW - STUCK_AFTER + timedelta(seconds=30)),
        ],
        dead={"deployment-requests": 2},
        checkpoint=NOW - timedelta(seconds=45),
    )
    status = cell_status("westeurope", source, NOW)
    assert [s.model for s in status.stuck] == ["b"]
    assert status.in_progress == 2
    assert status.live == (("a", "1.0.0"), ("b", "2.0.0"))
    assert status.dead_letters == {"deployment-requests": 2}
    assert status.checkpoint_age_seconds == 45
