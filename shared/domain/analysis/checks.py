"""Analysis checks: what is measured about a candidate revision and what counts as healthy.

A check names a built-in query template (``templates``), a comparison, a minimum sample size,
an interval, a window and how many failed measurements it tolerates. A comparison is absolute
(``value <= 2.5``) or relative to the live revision measured over the same window
(``candidate <= live * 1.2 + 0``). Checks are owned by the platform team: the region catalog
declares the defaults per risk tier; a model's labels may add templates, never remove one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CheckName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
# A Prometheus metric name (also a safe KQL string): the model's own business counter.
MetricName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")]
Operator = Literal["<=", ">="]
TierName = Literal["low", "medium", "high", "critical"]  # the catalog's RiskTier values


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplateName(StrEnum):
    SUCCESS_RATE = "success-rate"  # percent of requests answered without a server error
    P95_LATENCY = "p95-latency"  # seconds
    BUSINESS_RATE = "business-rate"  # percent of requests counted by the model's own metric
    # percent of mirrored requests whose prediction differs from the live one (shadow only)
    PREDICTION_DISCREPANCY = "prediction-discrepancy"


class ProviderKind(StrEnum):
    PROMETHEUS = "prometheus"  # any Prometheus HTTP API (the local stack's)
    AZURE_PROMETHEUS = "azure-monitor-prometheus"  # managed Prometheus, Entra token
    LOG_ANALYTICS = "log-analytics"  # Application Insights (workspace-based), KQL
    AML_METRICS = "aml-metrics"  # Azure Monitor metrics of AML online endpoints


class Absolute(_Frozen):
    kind: Literal["absolute"] = "absolute"
    op: Operator
    threshold: float = Field(allow_inf_nan=False)

    def bound(self, live: float | None) -> float:
        return self.threshold

    def describe(self) -> str:
        return f"{self.op} {self.threshold:g}"


class Relative(_Frozen):
    """``candidate <op> live * factor + offset``, both measured over the same window."""

    kind: Literal["relative"] = "relative"
    op: Operator
    factor: float = Field(default=1.0, gt=0, le=100, allow_inf_nan=False)
    offset: float = Field(default=0.0, ge=-1e6, le=1e6, allow_inf_nan=False)

    def bound(self, live: float | None) -> float | None:
        return None if live is None else live * self.factor + self.offset

    def describe(self) -> str:
        scaled = "live" if self.factor == 1 else f"{self.factor:g} x live"
        if self.offset:
            scaled += f" {'+' if self.offset > 0 else '-'} {abs(self.offset):g}"
        return f"{self.op} {scaled}"


Comparison = Annotated[Absolute | Relative, Field(discriminator="kind")]


class Check(_Frozen):
    name: CheckName
    template: TemplateName
    comparison: Comparison
    min_samples: int = Field(default=50, ge=0, le=10_000_000)
    interval_seconds: int = Field(default=60, ge=1, le=3600)
    window_seconds: int = Field(default=300, ge=5, le=86_400)
    failures_tolerated: int = Field(default=0, ge=0, le=100)

    @model_validator(mode="after")
    def _covering(self) -> Check:
        if self.window_seconds < self.interval_seconds:
            raise ValueError(
                "window_seconds must be at least interval_seconds: each measurement covers the "
                "time since the previous one, so nothing between measurements goes unseen"
            )
        return self

    @property
    def relative(self) -> bool:
        return isinstance(self.comparison, Relative)


SUCCESS_RATE = Check(
    name="success-rate",
    template=TemplateName.SUCCESS_RATE,
    comparison=Relative(op=">=", offset=-0.5),  # error rate <= live + 0.5 points
)
P95_LATENCY = Check(
    name="p95-latency",
    template=TemplateName.P95_LATENCY,
    comparison=Relative(op="<=", factor=1.2),
)
BUSINESS_RATE = Check(
    name="business-rate",
    template=TemplateName.BUSINESS_RATE,
    comparison=Relative(op="<=", offset=1.0),  # e.g. decline rate <= live + 1 point
)
PREDICTION_DISCREPANCY = Check(
    name="prediction-discrepancy",
    template=TemplateName.PREDICTION_DISCREPANCY,
    comparison=Absolute(op="<=", threshold=5.0),  # at most 5 % of answers differ
)
BUILT_IN: dict[TemplateName, Check] = {
    c.template: c for c in (SUCCESS_RATE, P95_LATENCY, BUSINESS_RATE, PREDICTION_DISCREPANCY)
}


class AnalysisPolicy(_Frozen):
    """The checks every gated step runs, unless a risk tier names its own list."""

    checks: tuple[Check, ...] = Field(
        default=(SUCCESS_RATE, P95_LATENCY), min_length=1, max_length=20
    )
    # How long an inconclusive rollout waits for an approver before it rolls back.
    decision_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)

    @field_validator("checks")
    @classmethod
    def _distinct(cls, checks: tuple[Check, ...]) -> tuple[Check, ...]:
        names = [c.name for c in checks]
        templates = [c.template for c in checks]
        if len(set(names)) != len(names) or len(set(templates)) != len(templates):
            raise ValueError("each check needs its own name and its own template")
        return checks

    def check_for(self, template: TemplateName) -> Check:
        """The policy's own check of that template, or the built-in one."""
        return next((c for c in self.checks if c.template is template), BUILT_IN[template])


class AnalysisSettings(_Frozen):
    """The region catalog's ``analysis``: where the metrics are and which checks run."""

    provider: ProviderKind
    # Prometheus query endpoint (managed Prometheus: the workspace's query endpoint); for
    # log-analytics the workspace id (a GUID); for aml-metrics unused (the endpoint's resource).
    endpoint: Annotated[str, Field(min_length=1, max_length=2048)]
    default: AnalysisPolicy = AnalysisPolicy()
    by_risk_tier: dict[TierName, AnalysisPolicy] = Field(default_factory=dict)

    def for_tier(self, tier: str) -> AnalysisPolicy:
        for name, policy in self.by_risk_tier.items():
            if name == tier:
                return policy
        return self.default


class Declared(_Frozen):
    """What a model's labels declare (``ai.clearance.analysis.*``): templates to add to the
    catalog's checks, and the model's business metric."""

    checks: tuple[TemplateName, ...] = ()
    business_metric: MetricName | None = None


def checks_for(policy: AnalysisPolicy, declared: Declared) -> tuple[Check, ...]:
    """The catalog's checks, plus the templates the model adds (a label never removes one).

    Declaring the business metric adds ``business-rate``; a catalog that requires it for a
    model without one makes every measurement of it inconclusive (the rollout pauses).
    """
    checks = list(policy.checks)
    wanted = list(declared.checks)
    if declared.business_metric is not None:
        wanted.append(TemplateName.BUSINESS_RATE)
    for template in wanted:
        if template not in {c.template for c in checks}:
            checks.append(policy.check_for(template))
    return tuple(checks)
