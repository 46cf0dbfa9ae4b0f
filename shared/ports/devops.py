"""Azure DevOps checks: the pending checks, and the callback that completes one."""

from __future__ import annotations

from typing import Protocol

from shared.domain.approval.devops import CheckRequest, Result


class PendingChecks(Protocol):
    def add(self, approval_id: str, check: CheckRequest) -> bool:
        """False when this check (same check id) is already recorded."""
        ...

    def pending(self, limit: int = 500) -> list[tuple[str, CheckRequest]]:
        """Open checks as (approval id, check), at most ``limit``."""
        ...

    def complete(self, approval_id: str, check_id: str, result: Result) -> None: ...


class PipelineCallbacks(Protocol):
    def task_completed(self, check: CheckRequest, result: Result) -> None:
        """POST the TaskCompleted event; raises TransientError when it may be retried."""
        ...
