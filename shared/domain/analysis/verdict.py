"""Verdicts: one measurement at a time, then the analysis of a whole gate.

A *measurement* of a check is pass, fail or inconclusive (too few samples, no data, the
provider unreachable after retries, or no live value to compare with). A check *fails* as
soon as more measurements failed than it tolerates. When the analysis window is over (the
step's bake time), a check *passes* if its latest measurement passed; it is *inconclusive*
if its latest measurement was inconclusive or none ever passed. The gate's verdict is fail if
any check failed, else inconclusive if any is, else pass; until the window is over it is
running.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.analysis.checks import Check


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Verdict(StrEnum):
    RUNNING = "running"
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Reading(_Frozen):
    """What the provider answered for one check: the candidate's value and sample count, the
    live revision's value (relative checks), or why there is no answer."""

    candidate: float | None = None
    samples: float | None = None
    live: float | None = None
    error: str | None = None  # the provider could not be asked (after retries)


class Measurement(_Frozen):
    check: str
    outcome: Outcome
    candidate: float | None
    live: float | None
    samples: float | None
    bound: float | None
    comparison: str
    note: str
    queries: dict[str, str] = Field(default_factory=dict)  # exactly what was asked


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def judge(check: Check, reading: Reading) -> Measurement:
    """One measurement of ``check``."""
    candidate, live, samples = (
        _finite(reading.candidate),
        _finite(reading.live),
        _finite(reading.samples),
    )
    comparison = check.comparison
    bound = comparison.bound(live)

    def result(outcome: Outcome, note: str) -> Measurement:
        return Measurement(
            check=check.name,
            outcome=outcome,
            candidate=candidate,
            live=live,
            samples=samples,
            bound=bound,
            comparison=comparison.describe(),
            note=note,
        )

    if reading.error is not None:
        return result(Outcome.INCONCLUSIVE, f"provider unreachable: {reading.error}"[:300])
    if samples is None or samples < check.min_samples:
        got = "no" if samples is None else f"{samples:g}"
        return result(Outcome.INCONCLUSIVE, f"too few samples: {got} < {check.min_samples}")
    if candidate is None:
        return result(Outcome.INCONCLUSIVE, "no data for the candidate")
    if bound is None:
        return result(Outcome.INCONCLUSIVE, "no data for the live revision to compare with")
    ok = candidate <= bound if comparison.op == "<=" else candidate >= bound
    shown = f"{candidate:g} {comparison.op} {bound:g}"
    return result(Outcome.PASS if ok else Outcome.FAIL, shown if ok else f"not {shown}")


class Tally(_Frozen):
    passes: int = Field(default=0, ge=0)
    failures: int = Field(default=0, ge=0)
    inconclusive: int = Field(default=0, ge=0)
    last: Outcome | None = None
    last_at: datetime | None = None

    def add(self, outcome: Outcome, at: datetime) -> Tally:
        return self.model_copy(
            update={
                "passes": self.passes + (outcome is Outcome.PASS),
                "failures": self.failures + (outcome is Outcome.FAIL),
                "inconclusive": self.inconclusive + (outcome is Outcome.INCONCLUSIVE),
                "last": outcome,
                "last_at": at,
            }
        )


def check_verdict(check: Check, tally: Tally, window_over: bool) -> Verdict:
    if tally.failures > check.failures_tolerated:
        return Verdict.FAIL
    if not window_over:
        return Verdict.RUNNING
    if tally.last is not Outcome.PASS or tally.passes == 0:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def combine(verdicts: list[Verdict]) -> Verdict:
    for v in (Verdict.FAIL, Verdict.RUNNING, Verdict.INCONCLUSIVE):
        if v in verdicts:
            return v
    return Verdict.PASS


class Analysis(_Frozen):
    """The analysis of one gate (before step ``step``): its checks, the window, the tallies.

    Persisted with the rollout; ``tick`` numbers the measurements so a redelivered tick is
    never counted twice.
    """

    step: int = Field(ge=0)
    checks: tuple[Check, ...]
    started_at: datetime
    ends_at: datetime
    tick: int = Field(default=0, ge=0)
    tallies: dict[str, Tally] = Field(default_factory=dict)
    # Inconclusive at the end of the window: the rollout waits for an approver until then,
    # and rolls back after it (fail safe).
    paused_until: datetime | None = None
    resumed_by: str | None = Field(default=None, max_length=320)  # the approver who continued
    last: tuple[Measurement, ...] = ()  # the latest measurements (re-recorded on redelivery)
    decided: Verdict | None = None  # the verdict of the latest measurement, as acted upon

    def due(self, check: Check, now: datetime, interval: float) -> bool:
        """Is ``check`` due at ``now``? (always, once the window is over: a final reading)"""
        last = self.tallies.get(check.name, Tally()).last_at
        return last is None or now >= self.ends_at or (now - last).total_seconds() >= interval

    def record(self, measurements: list[Measurement], now: datetime) -> Analysis:
        tallies = dict(self.tallies)
        for m in measurements:
            tallies[m.check] = tallies.get(m.check, Tally()).add(m.outcome, now)
        update = {"tick": self.tick + 1, "tallies": tallies, "last": tuple(measurements)}
        return self.model_copy(update=update)

    def verdict(self, now: datetime) -> Verdict:
        over = now >= self.ends_at
        return combine(
            [check_verdict(c, self.tallies.get(c.name, Tally()), over) for c in self.checks]
        )

    def next_at(self, now: datetime, scale: float) -> datetime:
        """When the next measurement is due: the shortest interval, never past the window."""
        # no check at all (a shadow-only policy at a canary's gate): decide at once
        interval = min((c.interval_seconds for c in self.checks), default=0) * scale
        return min(now + timedelta(seconds=max(interval, 1.0)), max(self.ends_at, now))
