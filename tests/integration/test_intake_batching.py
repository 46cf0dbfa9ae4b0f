"""Attacks on intake's batched lineage write (one chain transaction per delivery, the ledger
short-circuit of an exact redelivery, heads taken from memory or assumed empty), against the
real local Azurite and registry, the handlers called in this process as the host calls them.

Each test asks what the batching could break: concurrent deliveries of one event id and of one
digest under different ids, a crash between the ledger claim and the lineage transaction (and
one after it), a chain moved behind a writer's cached head, ledger rows edited behind the app's
back. The guarantees: one terminal record per event, exactly one approval request per image, a
contiguous chain that verifies, and a redelivery that completes unfinished work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from shared.adapters.storage.intake_ledger import TABLE as LEDGER
from shared.adapters.storage.lineage.writer import TableLineageWriter
from shared.composition import Container
from shared.domain.intake.codes import IntakeCode
from shared.domain.lineage.record import INTAKE_TERMINAL, ArtifactRef, LineageRecord, RecordKind
from shared.domain.lineage.verify import verify_chain
from shared.local.events import image_pushed
from shared.local.images import push_image
from shared.local.samples import model_labels
from shared.local.stack import LocalStack
from shared.services.intake.handlers import IntakeDeps, IntakeOutcome, handle_binding
from shared.services.intake.handlers import handle_image_pushed as handler
from shared.settings import build_settings
from tests.integration.lineage_support import T0, new_image, record, writer
from tests.support.request_counts import Counting, binding

pytestmark = pytest.mark.stack

REGION = "westeurope"


def _pk(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()  # the ledger's partition of a key


class Crash(BaseException):
    """The process dies here: nothing after it runs, no handler catches it."""


def fresh(stack: LocalStack) -> Container:
    """Another instance of the cell: its own clients and its own writer memory."""
    return Container(build_settings(stack.environment(REGION)))


def pushed(stack: LocalStack, name: str | None = None) -> tuple[str, str]:
    name = name or f"batch-{uuid.uuid4().hex[:8]}"
    values = model_labels(name, "1.0.0", region=REGION, zone="EU")
    image = push_image(stack.registry_client(REGION), f"models/{name}", values, tag="1.0.0")
    return f"models/{name}", image.digest


def deliver(deps: IntakeDeps, event: dict[str, Any]) -> IntakeOutcome:
    return handle_binding(binding(event), handler, deps)


def artifact_of(stack: LocalStack, repository: str, digest: str) -> ArtifactRef:
    return ArtifactRef(
        kind="image", registry=stack.login_server(REGION), repository=repository, digest=digest
    )


def chain(cell: Container, artifact: ArtifactRef) -> list[LineageRecord]:
    return TableLineageWriter(cell.table_service).list_for(artifact.key_hash)


def terminals(records: Sequence[LineageRecord], event_id: str | None = None) -> list[RecordKind]:
    return [
        r.kind
        for r in records
        if r.kind in INTAKE_TERMINAL and event_id in (None, r.correlation.event_id)
    ]


def verifies(cell: Container, key_hash: str) -> bool:
    reader = writer(cell).reader
    check = verify_chain(key_hash, reader.stored_links(key_hash), reader.head(key_hash))
    return check.ok


def approval_messages(cell: Container, digest: str) -> int:
    """How many approval requests for ``digest`` are on the queue (others are put back)."""
    from shared.adapters.storage.queue_envelope import QueueEnvelope
    from shared.domain.approval.request import ApprovalRequest
    from shared.queues import APPROVAL_REQUESTS

    queue = cell.queue_service.get_queue_client(APPROVAL_REQUESTS)
    received = list(
        queue.receive_messages(messages_per_page=32, max_messages=512, visibility_timeout=30)
    )
    ours = {
        m.id
        for m in received
        if ApprovalRequest.model_validate_json(QueueEnvelope.decode(m.content).body).artifact.digest
        == digest
    }
    for message in received:
        queue.update_message(message, visibility_timeout=0)
    return len(ours)


def in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# -- concurrent duplicate deliveries ---------------------------------------------------------
def test_one_event_id_delivered_eight_times_at_once_is_one_event(stack: LocalStack) -> None:
    repository, digest = pushed(stack)
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    cells = [fresh(stack) for _ in range(4)]  # four instances, two deliveries each
    results = in_threads([lambda c=c: deliver(c.intake(), event) for c in cells for _ in (1, 2)])
    assert not [r for r in results if isinstance(r, BaseException)], results
    cell = cells[0]
    artifact = artifact_of(stack, repository, digest)
    records = chain(cell, artifact)
    assert terminals(records) == [RecordKind.APPROVAL_REQUESTED], [r.kind for r in records]
    assert [r.kind for r in records].count(RecordKind.ARTIFACT_RECEIVED) == 1
    assert approval_messages(cell, digest) == 1
    assert verifies(cell, artifact.key_hash)


def test_one_digest_under_eight_event_ids_at_once_is_one_request(stack: LocalStack) -> None:
    repository, digest = pushed(stack)
    events = [image_pushed(stack, REGION, repository, digest, "1.0.0") for _ in range(8)]
    cells = [fresh(stack) for _ in range(4)]
    results = in_threads(
        [lambda e=e, i=i: deliver(cells[i % 4].intake(), e) for i, e in enumerate(events)]
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    cell = cells[0]
    artifact = artifact_of(stack, repository, digest)
    records = chain(cell, artifact)
    # every event ends in exactly one terminal record; one of them asked for approval
    for e in events:
        assert len(terminals(records, e["id"])) == 1, (e["id"], [r.kind for r in records])
    assert terminals(records).count(RecordKind.APPROVAL_REQUESTED) == 1
    assert approval_messages(cell, digest) == 1
    assert verifies(cell, artifact.key_hash)
    seqs = [r for r in writer(cell).reader.stored_links(artifact.key_hash)]
    assert len(seqs) == len(records)  # no fork: one row per seq, contiguous


# -- crashes ---------------------------------------------------------------------------------
class CrashingWriter:
    """The cell's writer, but the process dies before the first lineage transaction."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def append(self, *args: Any, **kwargs: Any) -> bool:
        raise Crash

    def append_all(self, *args: Any, **kwargs: Any) -> list[bool]:
        raise Crash


def test_a_crash_between_the_claim_and_the_lineage_is_completed_by_the_redelivery(
    stack: LocalStack,
) -> None:
    cell = fresh(stack)
    repository, digest = pushed(stack)
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    artifact = artifact_of(stack, repository, digest)
    dying = dataclasses.replace(cell.intake(), lineage=CrashingWriter(cell.lineage))
    with pytest.raises(Crash):
        deliver(dying, event)
    assert chain(cell, artifact) == []  # claimed, nothing recorded: the claim is not "done"
    other = fresh(stack)  # the platform redelivers to another instance
    outcome = deliver(other.intake(), event)
    assert outcome.kind is RecordKind.APPROVAL_REQUESTED
    records = chain(cell, artifact)
    assert terminals(records, event["id"]) == [RecordKind.APPROVAL_REQUESTED]
    assert approval_messages(cell, digest) == 1
    # and now it is done: the next redelivery reads the claim and writes nothing
    counting = Counting(stack)
    try:
        with counting.measure() as tally:
            again = deliver(other.intake(), event)
    finally:
        counting.close()
    assert again.kind is RecordKind.ARTIFACT_DUPLICATE
    assert tally.storage == 1 and all(" GET " in f" {line} " for line in tally.sent), tally.sent
    assert chain(cell, artifact) == records


def test_a_crash_after_the_lineage_before_the_ledger_completes_writes_nothing_twice(
    stack: LocalStack,
) -> None:
    cell = fresh(stack)
    repository, digest = pushed(stack)
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    artifact = artifact_of(stack, repository, digest)
    deps = cell.intake()

    class DyingLedger:
        def __getattr__(self, name: str) -> Any:
            return getattr(deps.ledger, name)

        def complete(self, *args: Any) -> None:
            raise Crash

    with pytest.raises(Crash):
        deliver(dataclasses.replace(deps, ledger=DyingLedger()), event)
    written = chain(cell, artifact)
    assert terminals(written) == [RecordKind.APPROVAL_REQUESTED]
    assert deliver(fresh(stack).intake(), event).kind is RecordKind.APPROVAL_REQUESTED
    assert chain(cell, artifact) == written  # the redelivery found every step recorded
    assert approval_messages(cell, digest) == 1
    row = cell.table_service.get_table_client(LEDGER).get_entity(_pk(artifact.key), "artifact")
    assert row["Status"] == "done"


# -- heads behind the writer's back ----------------------------------------------------------
def test_a_batch_after_the_chain_moved_behind_the_cached_head_does_not_fork(
    cell_container: Callable[[str], Container],
) -> None:
    cell = cell_container(REGION)
    a, b = writer(cell), writer(cell)
    artifact = new_image(REGION, "moved-head")
    assert a.append(record(artifact, RecordKind.ARTIFACT_RECEIVED, REGION, T0)) is True
    for i in range(2):  # another instance moves the chain; a's memory is now behind
        b.append(record(artifact, RecordKind.APPROVAL_VOTE, REGION, T0), idempotency_key=f"b{i}")
    batch = [(record(artifact, RecordKind.APPROVAL_VOTE, REGION, T0), f"a{i}") for i in range(3)]
    assert a.append_all(batch) == [True, True, True]
    links = list(a.reader.stored_links(artifact.key_hash))
    assert len(links) == 6
    assert verifies(cell, artifact.key_hash)
    assert a.append_all(batch) == [False, False, False]  # a replay of the whole batch
    assert len(list(a.reader.stored_links(artifact.key_hash))) == 6


def test_a_wrong_empty_chain_hint_is_caught_by_the_insert(
    cell_container: Callable[[str], Container],
) -> None:
    """``new_chain`` (the claim was a first insert) on a chain that does exist — the ledger
    row was deleted, say: the conditional insert of seq 1 conflicts, the head is read, and the
    batch goes after it; keys already written are left out."""
    cell = cell_container(REGION)
    artifact = new_image(REGION, "wrong-hint")
    writer(cell).append(
        record(artifact, RecordKind.ARTIFACT_RECEIVED, REGION, T0), idempotency_key="e|received"
    )
    batch = [
        (record(artifact, RecordKind.ARTIFACT_RECEIVED, REGION, T0), "e|received"),
        (record(artifact, RecordKind.ARTIFACT_VALIDATED, REGION, T0), "e|validated"),
    ]
    assert writer(cell).append_all(batch, new_chain=True) == [False, True]
    links = list(writer(cell).reader.stored_links(artifact.key_hash))
    assert len(links) == 2
    assert verifies(cell, artifact.key_hash)


# -- storage edited behind the app's back ----------------------------------------------------
def test_a_deleted_claim_row_makes_a_redelivery_repeat_nothing(stack: LocalStack) -> None:
    cell = fresh(stack)
    repository, digest = pushed(stack)
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    artifact = artifact_of(stack, repository, digest)
    assert deliver(cell.intake(), event).kind is RecordKind.APPROVAL_REQUESTED
    written = chain(cell, artifact)
    cell.table_service.get_table_client(LEDGER).delete_entity(_pk(artifact.key), "artifact")
    deliver(fresh(stack).intake(), event)  # looks like a new artifact: empty chain assumed
    assert chain(cell, artifact) == written
    assert approval_messages(cell, digest) == 1
    assert verifies(cell, artifact.key_hash)


def test_claim_rows_edited_into_nonsense_are_handled_not_crashed(stack: LocalStack) -> None:
    cell = fresh(stack)
    repository, digest = pushed(stack)
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    artifact = artifact_of(stack, repository, digest)
    deliver(cell.intake(), event)
    table = cell.table_service.get_table_client(LEDGER)
    row = table.get_entity(_pk(artifact.key), "artifact")
    row["Tags"], row["Content"] = "{not json", "sha256:" + "0" * 64
    table.update_entity(row)
    # a changed content digest is no longer "this exact delivery": handled again, idempotently
    # (whatever it concludes, the event's terminal record is already written)
    deliver(fresh(stack).intake(), event)
    retag = image_pushed(stack, REGION, repository, digest, "stable")
    assert deliver(fresh(stack).intake(), retag).kind is RecordKind.ARTIFACT_RETAGGED
    records = chain(cell, artifact)
    assert terminals(records, event["id"]) == [RecordKind.APPROVAL_REQUESTED]
    assert terminals(records, retag["id"]) == [RecordKind.ARTIFACT_RETAGGED]
    assert verifies(cell, artifact.key_hash)


# -- the own rejection read with the claim -----------------------------------------------------
def _rejected_before(stack: LocalStack, cell: Container, key: str, codes: str) -> None:
    """A rejection on record for ``key`` (an index's, reaching this image), written as the
    registry writes it, or edited behind the app's back (``codes`` not valid JSON, say)."""
    from azure.core.exceptions import ResourceExistsError

    from shared.queues import APPROVAL_REQUESTS

    cell.table_service.create_table_if_not_exists(LEDGER)
    with contextlib.suppress(ResourceExistsError):  # counted below even if nothing is sent
        cell.queue_service.create_queue(APPROVAL_REQUESTS)
    cell.table_service.get_table_client(LEDGER).upsert_entity(
        {
            "PartitionKey": _pk(key),
            "RowKey": "rejection",
            "Key": key,
            "Rejected": f"image|{stack.login_server(REGION)}|models/other|sha256:{'1' * 64}",
            "Codes": codes,
            "EventId": "earlier",
            "ViaIndex": f"sha256:{'1' * 64}",
        }
    )


@pytest.mark.parametrize("codes", ['["LABEL_MISSING"]', "{not json"])
def test_an_image_rejected_before_its_first_event_is_refused_from_the_claims_read(
    stack: LocalStack, codes: str
) -> None:
    cell = fresh(stack)
    repository, digest = pushed(stack)
    artifact = artifact_of(stack, repository, digest)
    _rejected_before(stack, cell, artifact.key, codes)
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    counting = Counting(stack)
    try:
        with counting.measure() as tally:
            outcome = deliver(cell.intake(), event)
    finally:
        counting.close()
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert IntakeCode.INTAKE_INDEX_REJECTED in [r.code for r in outcome.reasons]
    assert approval_messages(cell, digest) == 0
    assert terminals(chain(cell, artifact), event["id"]) == [RecordKind.ARTIFACT_REJECTED]
    # the own rejection row came with the claim's partition read: never read on its own
    own = f"intakeledger(PartitionKey='{_pk(artifact.key)}',RowKey='rejection')"
    assert not [p for p in tally.sent if own in p], tally.sent


def test_an_image_whose_content_was_rejected_through_an_index_is_still_refused(
    stack: LocalStack,
) -> None:
    cell = fresh(stack)
    repository, digest = pushed(stack)
    artifact = artifact_of(stack, repository, digest)
    # the same content under another repository was rejected as part of an index
    _rejected_before(stack, cell, f"image-content|{stack.login_server(REGION)}|{digest}", "[]")
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    outcome = deliver(cell.intake(), event)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert IntakeCode.INTAKE_INDEX_REJECTED in [r.code for r in outcome.reasons]
    assert approval_messages(cell, digest) == 0
    assert terminals(chain(cell, artifact), event["id"]) == [RecordKind.ARTIFACT_REJECTED]


def test_a_rejection_recorded_after_the_claims_read_is_caught_by_the_approval_consumer(
    stack: LocalStack,
) -> None:
    """The claim read the own rejection row (none yet); an index's rejection reaching this
    image lands before the approval request is consumed: no request is opened."""
    cell = fresh(stack)
    repository, digest = pushed(stack)
    artifact = artifact_of(stack, repository, digest)
    event = image_pushed(stack, REGION, repository, digest, "1.0.0")
    deps = cell.intake()
    ledger = deps.ledger

    class LateRejection:
        def __getattr__(self, name: str) -> Any:
            return getattr(ledger, name)

        def claim(self, *args: Any, **kwargs: Any) -> Any:
            claimed = ledger.claim(*args, **kwargs)
            _rejected_before(stack, cell, artifact.key, '["LABEL_MISSING"]')
            return claimed

    deps = dataclasses.replace(deps, ledger=LateRejection())  # type: ignore[arg-type]
    assert deliver(deps, event).kind is RecordKind.APPROVAL_REQUESTED
    from shared.domain.approval.record import ApprovalState
    from shared.services.approval.requests import open_request
    from tests.support.request_counts import Bench

    bench = Bench(stack, Counting(stack), prefix="late")
    try:
        request = bench.take_approval_request(digest)
    finally:
        bench.counting.close()
    approval = open_request(request, cell.approvals())
    assert approval.state is ApprovalState.CANCELLED, approval.state
