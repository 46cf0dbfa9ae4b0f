"""A metric store that answers the built-in PromQL templates from per-revision values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.ports.metrics import ProviderUnreachable, QueryRefused

_REVISION = re.compile(r'revision="([^"]+)"')


@dataclass
class Series:
    success: float | None = 99.9  # percent
    p95: float | None = 0.120  # seconds
    business: float | None = 2.0  # percent
    discrepancy: float | None = 1.0  # percent of mirrored answers that differ
    samples: float | None = 1000.0


@dataclass
class FakeMetrics:
    """Answers by revision (the model version in the query's selector), or for Azure ML
    endpoint metrics by deployment (the colour)."""

    revisions: dict[str, Series] = field(default_factory=dict)
    down: int = 0  # the next ``down`` queries raise ProviderUnreachable
    online: bool = True
    asked: list[str] = field(default_factory=list)

    def series(self, revision: str) -> Series:
        return self.revisions.setdefault(revision, Series())

    def run_query(self, query: str) -> float | None:
        self.asked.append(query)
        if self.down > 0:
            self.down -= 1
            raise ProviderUnreachable("connection refused")
        if "|" in query:  # the AML endpoint metrics form: metric|aggregation|deployment|...
            metric, _, deployment, *_ = query.split("|")
            a = self.series(deployment)
            return {"RequestLatency_P95": a.p95, "RequestsPerMinute": a.samples}.get(
                metric, a.success
            )
        match = _REVISION.search(query)
        if match is None:
            raise QueryRefused("no revision selector")
        s = self.series(match.group(1))
        if "increase(" in query:
            return s.samples
        if "histogram_quantile" in query:
            return s.p95
        if 'code!~"5.."' in query:
            return s.success
        if "model_prediction_discrepancies_total" in query:
            return s.discrepancy
        return s.business

    def is_online(self) -> bool:
        return self.online
