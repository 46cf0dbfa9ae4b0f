"""Guard: storage requests per event of the approval path stay at or under their figures.

The same counting as ``benchmarks/requests_per_event.py`` (azure-core's transport and
``smtplib``, in this process), on the session's local stack: an accepted push, the approval
consumer that follows, two votes, and the decision's checkpoint. Counts are deterministic, so
this is not a timed test: a change that adds a round trip to these paths fails here.

Targets of the hot-path issue: approval consumer <= 8, deciding vote <= 10. Where this branch
does not reach a target yet, the bound is the count it achieved (``BOUNDS``), and
docs/benchmarks.md says so.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from shared.local.stack import LocalStack
from tests.support.request_counts import Bench, Counting

pytestmark = pytest.mark.stack

STORAGE = ("table", "queue", "blob")
# (target of the issue, bound this test enforces: the target, or the count achieved)
BOUNDS = {
    "approval consumer": (8, 10),
    "first vote": (None, 5),
    "deciding vote": (10, 10),
}


@pytest.fixture(scope="module")
def rows(stack: LocalStack) -> Iterator[dict[str, Counter[str]]]:
    counting = Counting(stack)
    try:
        bench = Bench(stack, counting, prefix=f"ra{uuid.uuid4().hex[:6]}")
        bench.one_round(0, report=False)  # warm-up: tables, queues, clients
        bench.one_round(1, report=True)
        yield {kind: row.counts[-1] for kind, row in bench.rows.items()}
    finally:
        counting.close()


def _storage(counts: Counter[str]) -> int:
    return sum(counts[k] for k in STORAGE)


@pytest.mark.parametrize("event", sorted(BOUNDS))
def test_storage_requests_per_event_stay_within_bounds(
    rows: dict[str, Counter[str]], event: str
) -> None:
    target, bound = BOUNDS[event]
    assert target is None or bound >= target  # a bound never hides a met target
    counts = rows[event]
    assert _storage(counts) <= bound, (event, dict(counts))


def test_the_deciding_vote_sends_one_deployment_request_and_reads_no_checkpoint(
    rows: dict[str, Any],
) -> None:
    vote = rows["deciding vote"]
    assert vote["queue"] == 1  # the deployment request
    assert vote["blob"] == 0  # the signed checkpoint is not on the vote's request path
    assert vote["smtp"] == 1  # the owner's mail
    # ... but the checkpoint the decision asked for was signed right after
    checkpoint = rows["checkpoint after a decision (async)"]
    assert checkpoint["blob"] >= 1


def test_the_consumer_mails_each_approver_once(rows: dict[str, Any]) -> None:
    consumer = rows["approval consumer"]
    assert consumer["smtp"] == 2 and consumer["queue"] == 1  # two approvers; the expiry
