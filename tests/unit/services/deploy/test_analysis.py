"""Metric analysis at the gates of a rollout, step by step, against a fake metric store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.analysis.checks import AnalysisSettings
from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.lineage.record import LineageRecord, RecordKind
from shared.services.deploy.analysis import AnalysisDeps
from shared.services.deploy.decisions import continue_rollout
from shared.services.deploy.rollback import RollbackRefused, request_rollback
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_world import World
from tests.support.metrics_fakes import FakeMetrics

APPROVER = ["approver.one@contoso.example"]
ANALYSED = RecordKind.DEPLOYMENT_ANALYSED


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


@pytest.fixture
def world(cell: RegionEntry, metrics: FakeMetrics) -> World:
    analysed = cell.model_copy(
        update={"analysis": AnalysisSettings(provider="prometheus", endpoint="http://127.0.0.1:9")}
    )
    w = World(analysed)
    w.deps.analysis = AnalysisDeps(provider_for=lambda plan: metrics, sleep=lambda _: None)
    return w


def v(world: World, version: str, strategy: str = "canary") -> DeploymentRequest:
    return s.image_request(world.cell, s.image_metadata(strategy, version))


def live_then(world: World, strategy: str = "canary") -> DeploymentRequest:
    assert world.run(v(world, "1", strategy))[-1] is DeployOutcome.SUCCEEDED
    return v(world, "2", strategy)


def until_paused(world: World, request: DeploymentRequest) -> list[DeployOutcome]:
    world.delivered = len(world.bus.sent)
    outcomes = [world.deliver(request)]
    while outcomes[-1] is not DeployOutcome.PAUSED:
        step = world.drain(limit=1)
        assert step, outcomes
        outcomes += step
    return outcomes


def analyses(world: World) -> list[LineageRecord]:
    return [r for r in world.lineage.records if r.kind is ANALYSED]


def test_a_healthy_canary_is_measured_every_interval_and_promoted(
    world: World, metrics: FakeMetrics
) -> None:
    outcomes = world.run(live_then(world))
    assert outcomes[-1] is DeployOutcome.SUCCEEDED
    # two gates (canary-50, promote), each 15 one-minute measurements over a 15-minute bake
    assert outcomes.count(DeployOutcome.ANALYSING) == 2 * 14
    runs = analyses(world)
    assert len(runs) == 30 and runs[-1].details["verdict"] == "pass"
    last = runs[-1].details
    assert last["gate"] == "promote" and last["check.success-rate.outcome"] == "pass"
    assert 'revision="2"' in last["check.success-rate.query"]
    assert 'revision="1"' in last["check.success-rate.live_query"]
    assert last["check.p95-latency.comparison"] == "<= 1.2 x live"
    assert world.state().live is not None and world.state().live.metadata.version == "2"


def test_a_failing_canary_is_restored_at_its_first_failing_measurement(
    world: World, metrics: FakeMetrics
) -> None:
    request = live_then(world)
    metrics.series("2").success = 97.0
    began = world.clock.now
    outcomes = world.run(request)
    assert outcomes == [DeployOutcome.STEPPED, DeployOutcome.ROLLED_BACK]
    assert world.clock.now - began == timedelta(seconds=60)  # one interval, not the bake
    rolled = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK]
    assert rolled[-1].reasons[0].code == DeployCode.ANALYSIS_FAILED
    assert "success-rate: not 97 >= 99.4" in rolled[-1].reasons[0].message
    assert analyses(world)[-1].details["verdict"] == "fail"
    told = {to for mail in world.mailer.sent for to in mail.to}
    assert {"approver.one@contoso.example", "owner@contoso.example"} <= told
    state = world.state()
    assert state.rollout is None and state.live is not None
    assert state.live.metadata.version == "1"


def test_a_slow_candidate_fails_the_latency_check(world: World, metrics: FakeMetrics) -> None:
    request = live_then(world)
    metrics.series("2").p95 = 0.5
    assert world.run(request)[-1] is DeployOutcome.ROLLED_BACK
    assert analyses(world)[-1].details["check.p95-latency.outcome"] == "fail"


def test_too_little_traffic_pauses_then_the_deadline_rolls_back(
    world: World, metrics: FakeMetrics
) -> None:
    request = live_then(world)
    metrics.series("2").samples = 3
    outcomes = world.run(request)
    assert DeployOutcome.PAUSED in outcomes and outcomes[-1] is DeployOutcome.ROLLED_BACK
    paused = [r for r in analyses(world) if r.details["verdict"] == "inconclusive"]
    assert paused and "decide_by" in paused[0].details
    rolled = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK]
    assert rolled[-1].reasons[0].code == DeployCode.ANALYSIS_DEADLINE
    asked = [m for m in world.mailer.sent if "inconclusive" in m.subject]
    assert asked and "/api/models/fraud-detector/analysis" in asked[0].text


def test_an_approver_continues_an_inconclusive_rollout(world: World, metrics: FakeMetrics) -> None:
    request = live_then(world)
    metrics.series("2").samples = 3
    until_paused(world, request)
    metrics.series("2").samples = 1000
    decided = continue_rollout(
        "fraud-detector", APPROVER, "easy_auth", "low traffic hour", world.rollback_deps
    )
    assert decided.continued_by == APPROVER[0] and decided.step == 1
    again = continue_rollout("fraud-detector", APPROVER, "easy_auth", None, world.rollback_deps)
    assert again.already
    after = world.drain()
    assert DeployOutcome.SUCCEEDED in after and DeployOutcome.ROLLED_BACK not in after
    assert world.state().live.metadata.version == "2"  # type: ignore[union-attr]
    continued = [r for r in analyses(world) if r.details["verdict"] == "continued"]
    assert len(continued) == 1 and continued[0].actor.identity == APPROVER[0]


def test_an_approver_rolls_back_an_inconclusive_rollout(world: World, metrics: FakeMetrics) -> None:
    request = live_then(world)
    metrics.series("2").samples = 3
    until_paused(world, request)
    ticket = request_rollback("fraud-detector", APPROVER, "easy_auth", "no", world.rollback_deps)
    assert ticket.aborts_rollout
    assert world.drain()[0] is DeployOutcome.ROLLED_BACK
    assert world.state().rollout is None and world.state().live.metadata.version == "1"


def test_a_repeated_wake_up_message_does_not_resume_a_paused_rollout(
    world: World, metrics: FakeMetrics
) -> None:
    request = live_then(world)
    metrics.series("2").samples = 3
    until_paused(world, request)
    a = world.state().rollout.analysis  # type: ignore[union-attr]
    assert a is not None
    for tick in (0, a.tick - 1, a.tick, a.tick + 1):
        wake = request.model_copy(update={"step": a.step, "tick": tick})
        assert world.deliver(wake) is DeployOutcome.SKIPPED
    assert world.state().rollout.next_step == a.step  # type: ignore[union-attr]


def test_only_an_approver_may_continue_and_only_while_paused(
    world: World, metrics: FakeMetrics
) -> None:
    with pytest.raises(RollbackRefused) as nothing:
        continue_rollout("fraud-detector", APPROVER, "easy_auth", None, world.rollback_deps)
    assert nothing.value.status == 409
    request = live_then(world)
    metrics.series("2").samples = 3
    until_paused(world, request)
    for who in (["owner@contoso.example"], ["approver.one@contoso.example\u200b"], []):
        with pytest.raises(RollbackRefused) as refused:
            continue_rollout("fraud-detector", who, "easy_auth", None, world.rollback_deps)
        assert refused.value.status == 404  # as for an unknown model: nothing to learn
    a = world.state().rollout.analysis  # type: ignore[union-attr]
    assert a is not None and a.resumed_by is None
    world.clock.now = a.paused_until  # type: ignore[assignment]
    with pytest.raises(RollbackRefused) as late:
        continue_rollout("fraud-detector", APPROVER, "easy_auth", None, world.rollback_deps)
    assert late.value.status == 409


def test_an_unreachable_provider_is_retried_then_counts_as_inconclusive(
    world: World, metrics: FakeMetrics
) -> None:
    request = live_then(world)
    metrics.down = 2  # two failed attempts, the third answers
    world.delivered = len(world.bus.sent)
    world.deliver(request)
    assert world.drain(limit=1) == [DeployOutcome.ANALYSING]
    assert analyses(world)[-1].details["check.success-rate.outcome"] == "pass"
    metrics.down = 10_000
    outcomes = world.drain()
    assert DeployOutcome.PAUSED in outcomes
    assert "provider unreachable" in analyses(world)[-1].details["check.success-rate.note"]


def test_a_redelivered_measurement_is_not_counted_twice(
    world: World, metrics: FakeMetrics, cell: RegionEntry
) -> None:
    request = live_then(world)
    metrics.series("2").success = 97.0
    tolerant = world.cell.analysis.default.model_copy(  # type: ignore[union-attr]
        update={
            "checks": tuple(
                c.model_copy(update={"failures_tolerated": 1})
                for c in world.cell.analysis.default.checks  # type: ignore[union-attr]
            )
        }
    )
    world.deps.cell = world.cell.model_copy(
        update={"analysis": world.cell.analysis.model_copy(update={"default": tolerant})}  # type: ignore[union-attr]
    )
    world.delivered = len(world.bus.sent)
    world.deliver(request)
    tick = world.pending()[0]
    world.clock.advance(60)
    assert world.deliver(tick) is DeployOutcome.ANALYSING  # one failure, tolerated
    assert world.deliver(tick) is DeployOutcome.SKIPPED  # the same message again
    assert world.deliver(tick, delivery=2) is DeployOutcome.SKIPPED
    a = world.state().rollout.analysis  # type: ignore[union-attr]
    assert a is not None and a.tallies["success-rate"].failures == 1


@pytest.mark.parametrize("after", [0, 3])
def test_a_rollout_whose_analysis_vanished_from_storage_is_still_measured(
    world: World, metrics: FakeMetrics, after: int
) -> None:
    request = live_then(world)
    world.delivered = len(world.bus.sent)
    world.deliver(request)
    world.drain(limit=after)  # a few measurements in: the pending message is for a later one
    state, etag = world.store.get(world.cell.name, "fraud-detector")
    assert state.rollout is not None
    world.store.put(
        state.model_copy(update={"rollout": state.rollout.model_copy(update={"analysis": None})}),
        etag,
    )
    metrics.series("2").success = 50.0
    outcomes = world.drain()
    assert DeployOutcome.ROLLED_BACK in outcomes
    assert analyses(world)[-1].details["verdict"] == "fail"


def test_blue_green_is_analysed_after_the_switch_against_the_old_colours_window(
    world: World, metrics: FakeMetrics
) -> None:
    request = live_then(world, "blue-green")
    outcomes = world.run(request)
    assert outcomes[-1] is DeployOutcome.SUCCEEDED
    runs = analyses(world)
    assert runs and {r.details["gate"] for r in runs} == {"retire"}
    later = runs[-1].details["check.success-rate.live_query"]
    assert "offset" in later and 'revision="1"' in later


def test_shadow_is_promoted_only_when_the_mirrored_candidate_passes(
    world: World, metrics: FakeMetrics
) -> None:
    request = live_then(world, "shadow")
    metrics.series("2").p95 = 1.0
    assert world.run(request)[-1] is DeployOutcome.ROLLED_BACK
    assert {r.details["gate"] for r in analyses(world)} == {"promote"}


def test_a_region_without_analysis_keeps_the_readiness_gate_only(cell: RegionEntry) -> None:
    w = World(cell)
    assert w.run(s.image_request(cell, s.image_metadata("canary", "1")))[-1] == "succeeded"
    assert w.run(s.image_request(cell, s.image_metadata("canary", "2")))[-1] == "succeeded"
    assert RecordKind.DEPLOYMENT_ANALYSED not in w.kinds()


def test_time_scale_shortens_bakes_and_intervals(world: World) -> None:
    world.deps.time_scale = 1 / 60  # a minute becomes a second
    request = live_then(world)
    began = world.clock.now
    assert world.run(request)[-1] is DeployOutcome.SUCCEEDED
    assert world.clock.now - began <= timedelta(seconds=31)


def test_the_audit_page_shows_each_run_and_escapes_what_a_provider_said(
    world: World, metrics: FakeMetrics
) -> None:
    from shared.domain.lineage.chain import GENESIS, Link
    from shared.domain.lineage.views import AuditEntry
    from shared.ports.metrics import ProviderUnreachable
    from shared.services.lineage.audit_page import render_audit_page

    request = live_then(world)

    def hostile(query: str) -> float | None:
        raise ProviderUnreachable('<script>alert("x")</script>')

    metrics.run_query = hostile  # type: ignore[method-assign]
    world.delivered = len(world.bus.sent)
    world.deliver(request)
    world.drain(limit=1)
    prev, entries = GENESIS, []
    for seq, record in enumerate(world.lineage.records, start=1):
        link = Link.make(seq, prev, record)
        entries.append(AuditEntry.of("westeurope", "0" * 64, link))
        prev = link.hash
    page = render_audit_page(entries)
    assert "deployment.analysed" in page and "check.success-rate.query=" in page
    assert "<dt>Metric analysis</dt><dd>" in page and "canary-50: running (1 record(s)" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_an_aml_canary_is_judged_on_its_endpoint_metrics_and_restored(
    world: World, metrics: FakeMetrics
) -> None:
    from shared.services.deploy.drivers.aml import AmlDeployer
    from tests.support.deploy_fakes import FakeAmlEndpoints

    endpoints = FakeAmlEndpoints()
    world.driver = AmlDeployer(lambda plan: endpoints)
    first = s.aml_request(world.cell, s.aml_metadata("canary", "3"))
    assert world.run(first)[-1] is DeployOutcome.SUCCEEDED
    live_colour = next(iter(endpoints.serving("churn-model")))
    candidate = "green" if live_colour == "blue" else "blue"
    metrics.series(candidate).p95 = 900.0  # milliseconds, against the live colour's 0.12
    outcomes = world.run(s.aml_request(world.cell, s.aml_metadata("canary", "4")))
    assert outcomes[-1] is DeployOutcome.ROLLED_BACK
    run = analyses(world)[-1].details
    assert run["provider"] == "aml-metrics"
    assert run["check.p95-latency.query"] == f"RequestLatency_P95|Average|{candidate}|300|0"
    assert run["check.p95-latency.live_query"].split("|")[2] == live_colour
    assert set(endpoints.serving("churn-model")) == {live_colour}  # traffic is back


def _discrepancy_labels(world: World, version: str, strategy: str) -> DeploymentRequest:
    md = s.image_metadata(strategy, version, analysis={"checks": ["prediction-discrepancy"]})
    return s.image_request(world.cell, md)


def test_a_shadow_whose_predictions_differ_is_not_promoted(
    world: World, metrics: FakeMetrics
) -> None:
    assert world.run(_discrepancy_labels(world, "1", "shadow"))[-1] is DeployOutcome.SUCCEEDED
    metrics.series("2").discrepancy = 30.0
    assert world.run(_discrepancy_labels(world, "2", "shadow"))[-1] is DeployOutcome.ROLLED_BACK
    last = analyses(world)[-1].details
    assert last["check.prediction-discrepancy.outcome"] == "fail"
    assert last["check.prediction-discrepancy.comparison"] == "<= 5"


def test_prediction_discrepancy_is_measured_for_shadows_only(
    world: World, metrics: FakeMetrics
) -> None:
    assert world.run(_discrepancy_labels(world, "1", "canary"))[-1] is DeployOutcome.SUCCEEDED
    metrics.series("2").discrepancy = 30.0  # a canary answers each request once: no such metric
    assert world.run(_discrepancy_labels(world, "2", "canary"))[-1] is DeployOutcome.SUCCEEDED
    assert "check.prediction-discrepancy.outcome" not in analyses(world)[-1].details


def test_two_deliveries_of_one_measurement_at_once_count_it_once(
    world: World, metrics: FakeMetrics
) -> None:
    from shared.domain.errors import TransientError

    request = live_then(world)
    metrics.series("2").success = 97.0
    tolerant = world.cell.analysis.default.model_copy(  # type: ignore[union-attr]
        update={
            "checks": tuple(
                c.model_copy(update={"failures_tolerated": 1})
                for c in world.cell.analysis.default.checks  # type: ignore[union-attr]
            )
        }
    )
    world.deps.cell = world.cell.model_copy(
        update={"analysis": world.cell.analysis.model_copy(update={"default": tolerant})}  # type: ignore[union-attr]
    )
    world.delivered = len(world.bus.sent)
    world.deliver(request)
    tick = world.pending()[0]
    world.clock.advance(60)
    stale = world.store.get(world.cell.name, "fraud-detector")  # what the second one read
    assert world.deliver(tick) is DeployOutcome.ANALYSING
    real_get = world.store.get
    world.store.get = lambda region, model: stale  # type: ignore[method-assign]
    with pytest.raises(TransientError):  # its write loses on the ETag
        world.deliver(tick)
    world.store.get = real_get  # type: ignore[method-assign]
    assert world.deliver(tick, delivery=2) is DeployOutcome.SKIPPED
    a = world.state().rollout.analysis  # type: ignore[union-attr]
    assert a is not None and a.tallies["success-rate"].failures == 1
    assert len([r for r in analyses(world) if r.details["measurement"] == "1"]) == 1


@pytest.mark.parametrize("series", ["fail", "pass"])
def test_a_delivery_that_dies_after_storing_its_verdict_is_finished_by_the_retry(
    world: World, metrics: FakeMetrics, series: str
) -> None:
    """Lineage is down right after the verdict was stored: the retry records it and acts on it
    (restores, or runs the step), instead of skipping a measurement it already took."""
    from shared.domain.errors import TransientError

    request = live_then(world)
    if series == "fail":
        metrics.series("2").success = 97.0
    world.delivered = len(world.bus.sent)
    world.deliver(request)
    if series == "pass":  # let the gate before canary-50 reach its last measurement
        while True:
            a = world.state().rollout.analysis  # type: ignore[union-attr]
            if world.clock.now + timedelta(seconds=60) >= a.ends_at:  # type: ignore[union-attr]
                break
            world.drain(limit=1)
    tick = world.pending()[-1]
    real_append = world.lineage.append
    calls = {"n": 0}

    def flaky(record, *, idempotency_key=None):  # type: ignore[no-untyped-def]
        if record.kind is ANALYSED and calls["n"] == 0:
            calls["n"] += 1
            raise TransientError("lineage unavailable")
        return real_append(record, idempotency_key=idempotency_key)

    world.lineage.append = flaky  # type: ignore[method-assign]
    world.clock.now = tick_due = world.bus.sent[-1][1].scheduled_enqueue_time or world.clock.now
    assert tick_due is not None
    with pytest.raises(TransientError):
        world.deliver(tick)
    world.done.add(len(world.bus.sent) - 1)
    outcome = world.deliver(tick, delivery=2)
    if series == "fail":
        assert outcome is DeployOutcome.ROLLED_BACK
        assert world.state().rollout is None
    else:
        assert outcome is DeployOutcome.STEPPED
        assert world.state().rollout.next_step == 2  # type: ignore[union-attr]
    assert analyses(world)[-1].details["verdict"] == series
