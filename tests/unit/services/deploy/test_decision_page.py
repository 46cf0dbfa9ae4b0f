"""The analysis page: who may decide, with which form, and only while the rollout waits."""

from __future__ import annotations

import re

import pytest

from shared.domain.analysis.checks import AnalysisSettings
from shared.domain.approval.links import LinkSigner
from shared.domain.catalog import RegionEntry
from shared.services.deploy.analysis import AnalysisDeps
from shared.services.deploy.decision_page import handle
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_world import World
from tests.support.metrics_fakes import FakeMetrics

ONE, TWO = "approver.one@contoso.example", "approver.two@contoso.example"
SIGNER = LinkSigner({"k1": b"k" * 32})


@pytest.fixture
def paused(cell: RegionEntry) -> World:
    analysed = cell.model_copy(
        update={"analysis": AnalysisSettings(provider="prometheus", endpoint="http://x")}
    )
    metrics = FakeMetrics()
    w = World(analysed)
    w.deps.analysis = AnalysisDeps(provider_for=lambda plan: metrics, sleep=lambda _: None)
    assert w.run(s.image_request(w.cell, s.image_metadata("canary", "1")))[-1] == "succeeded"
    metrics.series("2").samples = 1
    w.delivered = len(w.bus.sent)
    outcomes = [w.deliver(s.image_request(w.cell, s.image_metadata("canary", "2")))]
    while outcomes[-1] is not DeployOutcome.PAUSED:
        outcomes += w.drain(limit=1)
    return w


def page(w: World, who: str, method: str = "GET", **form: str):  # type: ignore[no-untyped-def]
    return handle(method, "fraud-detector", [who], (), form, w.rollback_deps, SIGNER)


def csrf_of(body: str) -> str:
    match = re.search(r'name=csrf value="([^"]+)"', body)
    assert match
    return match.group(1)


def test_an_approver_sees_why_and_continues(paused: World) -> None:
    shown = page(paused, ONE)
    assert shown.status == 200 and "too few samples" in shown.body
    assert shown.headers["Content-Security-Policy"].startswith("default-src 'none'")
    done = page(paused, ONE, "POST", csrf=csrf_of(shown.body), action="continue", reason="ok")
    assert done.status == 202
    a = paused.state().rollout.analysis
    assert a is not None and a.resumed_by == ONE
    assert page(paused, ONE).status == 404  # nothing waits any more


def test_an_approver_rolls_back_from_the_page(paused: World) -> None:
    shown = page(paused, TWO)
    done = page(paused, TWO, "POST", csrf=csrf_of(shown.body), action="rollback")
    assert done.status == 202
    assert paused.drain()[0] is DeployOutcome.ROLLED_BACK


def test_forged_foreign_and_stale_forms_are_refused(paused: World) -> None:
    mine = csrf_of(page(paused, ONE).body)
    assert page(paused, ONE, "POST", csrf="forged", action="continue").status == 403
    assert page(paused, ONE, "POST", action="continue").status == 403
    assert page(paused, TWO, "POST", csrf=mine, action="continue").status == 403  # not theirs
    stale = SIGNER.csrf_token("analysis|dep-other|1|3|" + ONE)
    assert page(paused, ONE, "POST", csrf=stale, action="continue").status == 403
    assert page(paused, ONE, "POST", csrf=mine, action="drop tables").status == 400
    a = paused.state().rollout.analysis
    assert a is not None and a.resumed_by is None


def test_only_approvers_see_the_page(paused: World) -> None:
    for who in ("owner@contoso.example", ONE.replace("o", "\u043e", 1), ""):
        assert page(paused, who).status == 404  # as for an unknown model


def test_the_owner_who_is_also_an_approver_may_not_continue_their_own_rollout(
    cell: RegionEntry,
) -> None:
    # Separation of duties: the owner never approves their own model, and continuing past an
    # inconclusive analysis is approving its promotion. Rolling back stays open to them.
    analysed = cell.model_copy(
        update={"analysis": AnalysisSettings(provider="prometheus", endpoint="http://x")}
    )
    metrics = FakeMetrics()
    w = World(analysed)
    w.deps.analysis = AnalysisDeps(provider_for=lambda plan: metrics, sleep=lambda _: None)
    w.run(s.image_request(w.cell, s.image_metadata("canary", "1", owner=ONE)))
    metrics.series("2").samples = 1
    w.delivered = len(w.bus.sent)
    outcomes = [w.deliver(s.image_request(w.cell, s.image_metadata("canary", "2", owner=ONE)))]
    while outcomes[-1] is not DeployOutcome.PAUSED:
        outcomes += w.drain(limit=1)
    shown = page(w, ONE.upper())
    refused = page(w, ONE.upper(), "POST", csrf=csrf_of(shown.body), action="continue")
    assert refused.status == 403
    a = w.state().rollout.analysis
    assert a is not None and a.resumed_by is None
    shown = page(w, TWO)
    assert page(w, TWO, "POST", csrf=csrf_of(shown.body), action="continue").status == 202
