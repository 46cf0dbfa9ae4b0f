"""Fakes of the Azure DevOps check ports, and a check's sample coordinates."""

from __future__ import annotations

from shared.domain.approval.devops import CheckRequest, Result

SECRET = "s3cret-" + "x" * 40
IDS = {
    "projectid": "11111111-1111-1111-1111-111111111111",
    "planid": "22222222-2222-2222-2222-222222222222",
    "jobid": "33333333-3333-3333-3333-333333333333",
    "timelineid": "44444444-4444-4444-4444-444444444444",
    "taskinstanceid": "55555555-5555-5555-5555-555555555555",
}


class MemoryChecks:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[CheckRequest, str | None]] = {}

    def add(self, approval_id: str, check: CheckRequest) -> bool:
        if (approval_id, check.check_id) in self.rows:
            return False
        self.rows[(approval_id, check.check_id)] = (check, None)
        return True

    def pending(self, limit: int = 500) -> list[tuple[str, CheckRequest]]:
        return [(a, c) for (a, _), (c, r) in self.rows.items() if r is None][:limit]

    def complete(self, approval_id: str, check_id: str, result: Result) -> None:
        check, _ = self.rows[(approval_id, check_id)]
        self.rows[(approval_id, check_id)] = (check, result)
