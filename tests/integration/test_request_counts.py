"""The guard of the hot path's round trips: storage requests (table + queue + blob) per event
kind, counted at azure-core's transport exactly as ``benchmarks/requests_per_event.py`` counts
them (the same code: tests/support/request_counts.py), against the real local Azurite and
registry. Counts are deterministic, so this is an exact, untimed test: a change that adds a
round trip to an event kind fails here.

``LIMITS`` holds, per event kind, the issue's target and the count this code reaches. A kind
at or under its target is held to the target; a kind still above it is held to what it
achieves today (so it cannot get worse unnoticed) until the work that brings it down lowers
the figure. Rows for the approval kinds (approval consumer, deciding vote) are added here by
the work on those paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared.domain.lineage.record import RecordKind
from shared.local.stack import LocalStack
from tests.support.request_counts import PUSHER, PUSHER_NAMED, TARGETS, Bench, Counting

pytestmark = pytest.mark.stack


@dataclass(frozen=True)
class Limit:
    target: int  # the hot-path issue's target
    achieved: int  # what the code does today (measured with the benchmark)

    @property
    def bound(self) -> int:
        """The target once reached; until then, today's figure."""
        return self.target if self.achieved <= self.target else self.achieved


LIMITS: dict[str, Limit] = {
    "new artifact, accepted": Limit(TARGETS["new artifact, accepted"], 10),
    PUSHER_NAMED: Limit(TARGETS[PUSHER_NAMED], 10),
    "exact redelivery (same event id)": Limit(TARGETS["exact redelivery (same event id)"], 1),
    "duplicate (new id)": Limit(TARGETS["duplicate (new id)"], 4),
    "re-tag of a known digest": Limit(TARGETS["re-tag of a known digest"], 5),
    "rejected": Limit(TARGETS["rejected"], 8),
}


@pytest.fixture(scope="module")
def measured(stack: LocalStack) -> Iterator[Bench]:
    counting = Counting(stack)
    try:
        bench = Bench(stack, counting, prefix=f"rc{uuid.uuid4().hex[:6]}")
        bench.one_round(0, report=False)  # warm-up: tables, queues, clients
        for i in (1, 2):
            bench.one_round(i, report=True)
        yield bench
    finally:
        counting.close()


@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_storage_requests_per_event_stay_within_their_limit(measured: Bench, kind: str) -> None:
    row = measured.rows[kind]
    summary = row.summary()
    assert summary["stable"], f"{kind}: counts varied between rounds: {row.counts}"
    limit = LIMITS[kind]
    trace = "\n".join(row.sent[-1])
    assert summary["storage"] <= limit.bound, (
        f"{kind}: {summary['storage']} storage requests, limit {limit.bound} "
        f"(target {limit.target}):\n{trace}"
    )


def test_the_bus_stand_in_adds_exactly_its_duplicate_detection_row_per_send(
    measured: Bench,
) -> None:
    """Requests left out of storage as the local Service Bus stand-in's are exactly one
    conditional insert into its duplicate-detection table per message put on a queue: nothing
    else of the cell hides there."""
    for kind, row in measured.rows.items():
        sent = row.sent[-1]
        stand_in = [line for line in sent if line.startswith("stand-in")]
        puts = [line for line in sent if line.startswith("queue") and "/messages" in line]
        assert len(stand_in) == len(puts), (kind, sent)
        assert all(
            " POST /" in f" {line} " and line.endswith("/busduplicates") for line in stand_in
        ), (
            kind,
            stand_in,
        )


def test_an_exact_redelivery_writes_nothing(measured: Bench) -> None:
    """The redelivery of a completed event reads its claim and stops: no write of any kind."""
    sent = measured.rows["exact redelivery (same event id)"].sent[-1]
    assert sent and all(line.split()[1] == "GET" for line in sent), sent


def test_an_accepted_event_writes_its_lineage_in_one_chain_transaction(measured: Bench) -> None:
    """One entity-group transaction for the chain, no read of a head nor of a first record,
    and each index row once (no PATCH of the same row twice)."""
    sent = measured.rows["new artifact, accepted"].sent[-1]
    assert not [line for line in sent if "/lineage(" in line and " GET " in f" {line} "], sent
    patches = [line for line in sent if "PATCH" in line and "/lineage(" in line]
    assert len(patches) == len(set(patches)), patches
    batches = [line for line in sent if line.endswith("/$batch")]
    # the chain; the day partition's rows; the artifacts partition's catalog rows (the
    # artifact's own row and its name rows, formerly one request each)
    assert len(batches) == 3, sent
    assert not [line for line in sent if "PATCH" in line and "PartitionKey='n|" in line], sent


def test_the_pushers_by_actor_row_joins_the_catalog_transaction(measured: Bench) -> None:
    """An event naming its pusher costs what one without does: the pusher's by-actor row is
    in the ``artifacts`` partition's transaction, not a request of its own."""
    named = measured.rows[PUSHER_NAMED]
    plain = measured.rows["new artifact, accepted"]
    assert named.summary()["storage"] == plain.summary()["storage"], named.sent[-1]
    assert not [line for line in named.sent[-1] if "PartitionKey='x|" in line], named.sent[-1]


def test_the_pushers_row_is_written_and_found_by_actor(stack: LocalStack, measured: Bench) -> None:
    from shared.composition import Container
    from shared.services.lineage.queries import AuditQueries, every
    from shared.settings import build_settings

    cell = Container(build_settings(stack.environment("westeurope")))
    queries = AuditQueries({"westeurope": cell.lineage.reader})  # type: ignore[attr-defined]
    found = list(every(lambda t: queries.by_actor(PUSHER.upper(), token=t)))
    assert found and all(e.role == "pushed" for e in found)
    assert {e.record.kind for e in found} == {RecordKind.ARTIFACT_RECEIVED}
