"""Application Insights (workspace-based) / Log Analytics: KQL through ``LogsQueryClient``.

The query names its own time filter; it must give one row with a ``value`` column. A partial
result is not evidence: it counts as "unreachable" (the measurement is inconclusive).
"""

from __future__ import annotations

import math
from typing import Any

from shared.ports.metrics import ProviderUnreachable, QueryRefused


class LogAnalyticsProvider:
    def __init__(self, client: Any, workspace_id: str) -> None:
        self._client = client  # azure.monitor.query.LogsQueryClient
        self._workspace = workspace_id

    def run_query(self, query: str) -> float | None:
        from azure.core.exceptions import AzureError, HttpResponseError
        from azure.monitor.query import LogsQueryStatus

        try:
            result = self._client.query_workspace(
                self._workspace, query, timespan=None, server_timeout=30
            )
        except HttpResponseError as exc:
            if exc.status_code == 400:
                raise QueryRefused(f"Log Analytics refused the query: {exc.message}") from exc
            raise ProviderUnreachable(f"Log Analytics answered {exc.status_code}") from exc
        except AzureError as exc:
            raise ProviderUnreachable(f"Log Analytics is unreachable: {exc}") from exc
        if result.status != LogsQueryStatus.SUCCESS:
            raise ProviderUnreachable("Log Analytics gave a partial result")
        tables = result.tables
        if not tables or not tables[0].rows:
            return None
        table = tables[0]
        if "value" not in table.columns or len(table.rows) != 1:
            raise QueryRefused("the query must give one row with a 'value' column")
        raw = table.rows[0][table.columns.index("value")]
        if raw is None or isinstance(raw, bool) or not isinstance(raw, int | float):
            return None
        value = float(raw)
        return value if math.isfinite(value) else None

    def is_online(self) -> bool:
        try:
            return self.run_query("print value = 1.0") == 1.0
        except (ProviderUnreachable, QueryRefused):
            return False


def logs_client(credential: Any, **kwargs: Any) -> Any:
    from azure.monitor.query import LogsQueryClient

    return LogsQueryClient(credential, **kwargs)
