"""Verdicts, one measurement at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.analysis.checks import (
    P95_LATENCY,
    SUCCESS_RATE,
    Absolute,
    Check,
    Relative,
    TemplateName,
)
from shared.domain.analysis.verdict import Analysis, Outcome, Reading, Verdict, judge

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def test_relative_error_rate_allows_half_a_point_more_than_live() -> None:
    assert judge(SUCCESS_RATE, Reading(candidate=99.0, live=99.4, samples=500)).outcome == "pass"
    m = judge(SUCCESS_RATE, Reading(candidate=98.8, live=99.4, samples=500))
    assert m.outcome is Outcome.FAIL and m.bound is not None and abs(m.bound - 98.9) < 1e-9
    assert "not 98.8 >= 98.9" in m.note


def test_relative_latency_allows_twenty_percent_more_than_live() -> None:
    assert judge(P95_LATENCY, Reading(candidate=0.24, live=0.2, samples=500)).outcome == "pass"
    assert judge(P95_LATENCY, Reading(candidate=0.25, live=0.2, samples=500)).outcome == "fail"


def test_absolute_threshold() -> None:
    check = Check(
        name="p95-under-300ms",
        template=TemplateName.P95_LATENCY,
        comparison=Absolute(op="<=", threshold=0.3),
    )
    assert judge(check, Reading(candidate=0.29, samples=100)).outcome == "pass"
    assert judge(check, Reading(candidate=0.31, samples=100)).outcome == "fail"


def test_too_few_samples_no_data_and_unreachable_are_inconclusive() -> None:
    few = judge(SUCCESS_RATE, Reading(candidate=10.0, live=99.0, samples=49))
    assert few.outcome is Outcome.INCONCLUSIVE and "too few samples: 49 < 50" in few.note
    nodata = judge(SUCCESS_RATE, Reading(candidate=None, live=99.0, samples=500))
    assert nodata.outcome is Outcome.INCONCLUSIVE
    nolive = judge(SUCCESS_RATE, Reading(candidate=99.0, live=None, samples=500))
    assert nolive.outcome is Outcome.INCONCLUSIVE and "live revision" in nolive.note
    down = judge(SUCCESS_RATE, Reading(error="timed out"))
    assert down.outcome is Outcome.INCONCLUSIVE and "unreachable" in down.note


def test_nan_and_infinity_from_a_provider_are_no_data_not_a_pass() -> None:
    # NaN compares false with everything; a naive "not (x < bound)" would pass it.
    for bad in (float("nan"), float("inf"), float("-inf")):
        m = judge(P95_LATENCY, Reading(candidate=bad, live=0.2, samples=500))
        assert m.outcome is not Outcome.PASS
    m = judge(P95_LATENCY, Reading(candidate=0.2, live=0.2, samples=float("nan")))
    assert m.outcome is Outcome.INCONCLUSIVE


def _analysis(*checks: Check, minutes: int = 10) -> Analysis:
    return Analysis(step=1, checks=checks, started_at=T0, ends_at=T0 + timedelta(minutes=minutes))


def _step(a: Analysis, minute: int, outcome_reading: Reading, check: Check) -> Analysis:
    now = T0 + timedelta(minutes=minute)
    return a.record([judge(check, outcome_reading)], now)


GOOD = Reading(candidate=99.9, live=99.9, samples=1000)
BAD = Reading(candidate=90.0, live=99.9, samples=1000)
FEW = Reading(candidate=99.9, live=99.9, samples=3)


def test_stepping_a_check_to_pass() -> None:
    check = SUCCESS_RATE
    a = _analysis(check)
    for minute in range(1, 10):
        a = _step(a, minute, GOOD, check)
        assert a.verdict(T0 + timedelta(minutes=minute)) is Verdict.RUNNING
    a = _step(a, 10, GOOD, check)
    assert a.verdict(T0 + timedelta(minutes=10)) is Verdict.PASS
    assert a.tick == 10 and a.tallies[check.name].passes == 10


def test_a_failure_beyond_the_tolerance_fails_at_once_not_at_the_end() -> None:
    check = SUCCESS_RATE.model_copy(update={"failures_tolerated": 1})
    a = _step(_analysis(check), 1, BAD, check)
    assert a.verdict(T0 + timedelta(minutes=1)) is Verdict.RUNNING  # one tolerated
    a = _step(a, 2, GOOD, check)
    assert a.verdict(T0 + timedelta(minutes=2)) is Verdict.RUNNING
    a = _step(a, 3, BAD, check)
    assert a.verdict(T0 + timedelta(minutes=3)) is Verdict.FAIL


def test_inconclusive_when_the_last_measurement_had_too_few_samples() -> None:
    check = SUCCESS_RATE
    a = _step(_analysis(check, minutes=2), 1, GOOD, check)
    a = _step(a, 2, FEW, check)
    assert a.verdict(T0 + timedelta(minutes=2)) is Verdict.INCONCLUSIVE


def test_an_early_inconclusive_measurement_is_outgrown_by_later_passes() -> None:
    check = SUCCESS_RATE
    a = _step(_analysis(check, minutes=2), 1, FEW, check)
    a = _step(a, 2, GOOD, check)
    assert a.verdict(T0 + timedelta(minutes=2)) is Verdict.PASS


def test_fail_wins_over_inconclusive_and_running_over_pass() -> None:
    a = _analysis(SUCCESS_RATE, P95_LATENCY)
    now = T0 + timedelta(minutes=1)
    a = a.record(
        [
            judge(SUCCESS_RATE, FEW),
            judge(P95_LATENCY, Reading(candidate=9.0, live=0.1, samples=1000)),
        ],
        now,
    )
    assert a.verdict(now) is Verdict.FAIL


def test_a_check_that_was_never_measured_is_inconclusive_at_the_end() -> None:
    a = _analysis(SUCCESS_RATE, P95_LATENCY, minutes=1)
    now = T0 + timedelta(minutes=1)
    a = a.record([judge(SUCCESS_RATE, GOOD)], now)
    assert a.verdict(now) is Verdict.INCONCLUSIVE


def test_checks_are_due_by_their_own_interval_and_all_at_the_end() -> None:
    slow = P95_LATENCY.model_copy(update={"interval_seconds": 300})
    a = _analysis(SUCCESS_RATE, slow)
    a = a.record([judge(SUCCESS_RATE, GOOD), judge(slow, GOOD)], T0)
    one = T0 + timedelta(minutes=1)
    assert a.due(SUCCESS_RATE, one, 60) and not a.due(slow, one, 300)
    assert a.due(slow, a.ends_at, 300)
    assert a.next_at(one, 1.0) == one + timedelta(seconds=60)
    assert a.next_at(a.ends_at - timedelta(seconds=10), 1.0) == a.ends_at


def test_relative_describes_itself() -> None:
    assert Relative(op="<=", factor=1.2).describe() == "<= 1.2 x live"
    assert Relative(op=">=", offset=-0.5).describe() == ">= live - 0.5"


def test_a_gate_left_without_checks_schedules_and_decides_without_a_crash() -> None:
    # A tier whose only check is shadow-only leaves a canary's gate with no check: next_at
    # raised ValueError (min of nothing) in the deployer, and Service Bus retried it.
    now = datetime(2026, 12, 2, tzinfo=UTC)
    a = Analysis(step=1, checks=(), started_at=now, ends_at=now + timedelta(seconds=30))
    assert now < a.next_at(now, 1.0) <= now + timedelta(seconds=30)
    assert a.verdict(now + timedelta(seconds=30)) is Verdict.PASS
