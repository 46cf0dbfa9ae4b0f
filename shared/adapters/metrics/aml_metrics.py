"""Azure Monitor metrics of one Azure ML online endpoint, through ``MetricsQueryClient``.

Queries take the form ``metric|aggregation|deployment|window|offset`` (see
``shared.domain.analysis.templates``): ``RequestLatency_P95|Average`` (milliseconds, the mean
of the per-minute values), ``RequestsPerMinute|Total`` (requests in the window) and
``SuccessRate|Total`` (100 x (1 - 5xx requests / requests), from ``RequestsPerMinute`` split
by ``statusCodeClass``), each filtered to one ``deployment``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.ports.metrics import ProviderUnreachable, QueryRefused

_QUERY = re.compile(
    r"^(?P<metric>RequestLatency_P95|RequestsPerMinute|SuccessRate)\|(?P<agg>Average|Total)\|"
    r"(?P<deployment>[a-z][a-z0-9-]{0,31})\|(?P<window>[0-9]{1,6})\|(?P<offset>[0-9]{1,7})$"
)


def endpoint_resource(subscription: str, group: str, workspace: str, endpoint: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{workspace}/onlineEndpoints/{endpoint}"
    )


class AmlMetricsProvider:
    def __init__(
        self,
        client: Any,
        resource_uri: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client  # azure.monitor.query.MetricsQueryClient
        self._resource = resource_uri
        self._clock = clock

    def run_query(self, query: str) -> float | None:
        match = _QUERY.match(query)
        if match is None:
            raise QueryRefused("not an Azure ML endpoint metrics query")
        deployment = match["deployment"]
        end = self._clock() - timedelta(seconds=int(match["offset"]))
        span = (end - timedelta(seconds=int(match["window"])), end)
        if match["metric"] == "SuccessRate":
            only = f"deployment eq '{deployment}'"
            total = self._points("RequestsPerMinute", "Total", only, span)
            errors = self._points(
                "RequestsPerMinute",
                "Total",
                f"deployment eq '{deployment}' and statusCodeClass eq '5xx'",
                span,
            )
            if not total or sum(total) <= 0:
                return None
            return 100.0 * (1.0 - sum(errors) / sum(total))
        points = self._points(match["metric"], match["agg"], f"deployment eq '{deployment}'", span)
        if not points:
            return None
        return sum(points) if match["agg"] == "Total" else sum(points) / len(points)

    def _points(
        self,
        metric: str,
        aggregation: str,
        filter_: str | None,
        span: tuple[datetime, datetime],
    ) -> list[float]:
        from azure.core.exceptions import AzureError, HttpResponseError

        try:
            result = self._client.query_resource(
                self._resource,
                [metric],
                timespan=span,
                granularity=timedelta(minutes=1),
                aggregations=[aggregation],
                filter=filter_,
            )
        except HttpResponseError as exc:
            if exc.status_code == 400:
                raise QueryRefused(f"Azure Monitor refused the query: {exc.message}") from exc
            raise ProviderUnreachable(f"Azure Monitor answered {exc.status_code}") from exc
        except AzureError as exc:
            raise ProviderUnreachable(f"Azure Monitor is unreachable: {exc}") from exc
        key = aggregation.lower()
        values: list[float] = []
        for m in result.metrics:
            for series in m.timeseries:
                for point in series.data:
                    value = getattr(point, key, None)
                    if isinstance(value, int | float) and math.isfinite(value):
                        values.append(float(value))
        return values

    def is_online(self) -> bool:
        now = self._clock()
        try:
            self._points("RequestsPerMinute", "Total", None, (now - timedelta(minutes=5), now))
        except (ProviderUnreachable, QueryRefused):
            return False
        return True


def metrics_client(credential: Any, **kwargs: Any) -> Any:
    from azure.monitor.query import MetricsQueryClient

    return MetricsQueryClient(credential, **kwargs)
