"""PendingChecks over Table Storage: ``devopschecks``, one partition per approval.

A check is a conditional insert (RowKey: its check id), so Azure DevOps re-evaluating the same
check run, or two instances receiving it at once, record it once. The row holds the job's
AuthToken until the callback is made; the row then keeps only the result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.adapters.storage.resources import LazyTable
from shared.domain.approval.devops import CheckRequest, Result
from shared.domain.errors import TransientError

TABLE = "devopschecks"


class TablePendingChecks:
    def __init__(self, table_service: Any) -> None:
        self._table = LazyTable(table_service, TABLE)

    def add(self, approval_id: str, check: CheckRequest) -> bool:
        from azure.core.exceptions import AzureError, ResourceExistsError

        try:
            self._table().create_entity(
                {
                    "PartitionKey": approval_id,
                    "RowKey": check.check_id,
                    "State": "pending",
                    "Check": check.model_dump_json(),
                    "ReceivedAt": datetime.now(UTC).isoformat(),
                }
            )
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise TransientError(f"devops check record: {exc}") from exc
        return True

    def pending(self, limit: int = 500) -> list[tuple[str, CheckRequest]]:
        from azure.core.exceptions import AzureError

        out: list[tuple[str, CheckRequest]] = []
        try:
            for row in self._table().query_entities("State eq 'pending'"):
                try:
                    check = CheckRequest.model_validate_json(str(row["Check"]))
                except ValueError:
                    continue  # edited behind the app's back: never called back
                out.append((str(row["PartitionKey"]), check))
                if len(out) >= limit:
                    break
        except AzureError as exc:
            raise TransientError(f"devops check query: {exc}") from exc
        return out

    def complete(self, approval_id: str, check_id: str, result: Result) -> None:
        from azure.core.exceptions import AzureError
        from azure.data.tables import UpdateMode

        try:
            self._table().upsert_entity(
                {
                    "PartitionKey": approval_id,
                    "RowKey": check_id,
                    "State": "done",
                    "Result": result,
                    "Check": "",
                    "CompletedAt": datetime.now(UTC).isoformat(),
                },
                mode=UpdateMode.REPLACE,
            )
        except AzureError as exc:
            raise TransientError(f"devops check complete: {exc}") from exc
