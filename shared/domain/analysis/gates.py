"""Which rollout steps metric analysis gates, what it compares, and over which window.

A gated step is analysed when the candidate takes (or mirrors) traffic next to a live
revision: canary steps after the first and the promotion, shadow's promotion, and blue-green's
retirement of the old colour (after the switch; its relative checks compare with the old
colour over the same length of window just before the switch). A first deployment and a
rollback have nothing to compare with and keep the readiness gate only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain.analysis.checks import (
    AnalysisSettings,
    Check,
    ProviderKind,
    TemplateName,
    checks_for,
)
from shared.domain.analysis.templates import Queries, Target, render
from shared.domain.analysis.verdict import Analysis
from shared.domain.deploy.plan import DeploymentPlan, DriverKind
from shared.domain.deploy.revision import Revision
from shared.domain.deploy.steps import steps_for
from shared.domain.metadata.rollout import BlueGreen, Shadow


def analysed(plan: DeploymentPlan, index: int) -> bool:
    steps = steps_for(plan)
    if index <= 0 or index >= len(steps) or plan.replaces is None or plan.is_rollback:
        return False
    step = steps[index]
    if not step.gated:
        return False
    return not (isinstance(plan.strategy, BlueGreen) and step.name == "switch")


def provider_of(plan: DeploymentPlan, settings: AnalysisSettings) -> ProviderKind:
    """AML endpoints report Azure Monitor metrics; images use the region's provider."""
    return ProviderKind.AML_METRICS if plan.driver is DriverKind.AML else settings.provider


def start(
    plan: DeploymentPlan, settings: AnalysisSettings, index: int, now: datetime, scale: float
) -> Analysis:
    """The analysis of the gate before step ``index``: over the previous step's bake time."""
    bake = steps_for(plan)[index - 1].bake_seconds * scale
    policy = settings.for_tier(plan.metadata.risk_tier)
    checks = checks_for(policy, plan.metadata.analysis)
    if not isinstance(plan.strategy, Shadow):  # only a shadow answers the same requests twice
        checks = tuple(c for c in checks if c.template is not TemplateName.PREDICTION_DISCREPANCY)
    return Analysis(
        step=index,
        checks=checks,
        started_at=now,
        ends_at=now + timedelta(seconds=bake),
    )


def _target(plan: DeploymentPlan, revision: Revision) -> Target:
    return Target(
        model=plan.model,
        revision=revision.metadata.version,
        deployment=revision.workload,
        metric=plan.metadata.analysis.business_metric,
    )


def queries(
    plan: DeploymentPlan,
    settings: AnalysisSettings,
    analysis: Analysis,
    check: Check,
    now: datetime,
    scale: float,
) -> tuple[Queries, Queries | None]:
    """The candidate's queries and, for a relative check, the live revision's. Raises
    ``UnsafeQueryValue``."""
    provider = provider_of(plan, settings)
    window = max(int(check.window_seconds * scale), 5)
    candidate = render(check, provider, _target(plan, plan.release), window)
    if not check.relative or plan.replaces is None:
        return candidate, None
    offset = 0
    if isinstance(plan.strategy, BlueGreen):
        # The old colour serves no traffic after the switch: compare with its last window.
        offset = int((now - analysis.started_at).total_seconds())
    live = render(check, provider, _target(plan, plan.replaces), window, offset)
    return candidate, live
