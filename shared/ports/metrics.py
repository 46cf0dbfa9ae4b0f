"""The port of metric analysis: ask a metric store one query, and whether it answers at all.

Two calls, like Flagger's provider interface. Adapters (``shared.adapters.metrics``): any
Prometheus HTTP API (also Azure Monitor managed Prometheus with an Entra token), Log Analytics
/ Application Insights (KQL) and Azure Monitor metrics of Azure ML online endpoints.
"""

from __future__ import annotations

from typing import Protocol

from shared.domain.errors import TransientError


class ProviderUnreachable(TransientError):
    """The metric store did not answer (network, throttling, 5xx, authentication)."""


class QueryRefused(ValueError):
    """The store refused the query itself (bad syntax, unknown metric): no retry helps."""


class MetricProvider(Protocol):
    def run_query(self, query: str) -> float | None:
        """The query's single value; None when there is no data (empty result, NaN).

        The query carries its own window (PromQL range, KQL time filter, or the AML metrics
        form ``metric|aggregation|deployment|window|offset``).

        Raises ``ProviderUnreachable`` or ``QueryRefused``.
        """
        ...

    def is_online(self) -> bool: ...
