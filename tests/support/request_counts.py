"""Storage, queue, blob, registry and mail requests per event kind, counted at the transport.

Shared by ``benchmarks/requests_per_event.py`` (the figures in docs/benchmarks.md) and the
guard test ``tests/integration/test_request_counts.py`` (the same counting, so the test fails
when a change adds round trips). Every request the handlers make goes through the ``send`` of
one of ``TRANSPORTS`` (the table and queue clients' ``LeanTransport``, the blob and registry
clients' ``RequestsTransport``) and every mail through ``smtplib.SMTP.sendmail``;
``Counting`` wraps them in this process (the handlers run here, not in a host), ``Bench``
drives the cell's real handlers one event at a time.

So that a transport the counter does not wrap can never make the counts drop silently, the
storage requests are also counted on the wire: every request line written on a socket to
Azurite's ports (``socket.sendall``, whichever HTTP client writes it). ``measure`` fails when
the two counts of a storage kind differ (a request the lean transport sent again on a new
connection, after the server closed the idle one, is one request at the transport and two on
the wire: those are counted and allowed for).
"""

from __future__ import annotations

import re
import smtplib
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.local.samples import model_labels
from shared.local.stack import SAMPLE_APPROVERS, LocalStack

REGION = "westeurope"
ZONE = "EU"
KINDS = ("table", "queue", "blob", "registry", "smtp", "stand-in", "other")
# Storage requests (table + queue + blob) per event: the targets of the hot-path issue.
PUSHER_NAMED = "new artifact, accepted, pusher named"
TARGETS = {
    "new artifact, accepted": 7,
    PUSHER_NAMED: 7,  # the same target: ACR's events name the pusher (``data.actor.name``)
    "approval consumer": 8,
    "exact redelivery (same event id)": 2,
    "duplicate (new id)": 2,
    "re-tag of a known digest": 3,
    "rejected": 5,
    "deciding vote": 10,
}


PUSHER = "pusher@contoso.example"
STORAGE = ("table", "queue", "blob")
# The local Service Bus stand-in (``StorageQueueMessageBus``) sends each message as a queue put
# ("queue": the one request a Service Bus send is in Azure) plus a conditional insert in this
# table for duplicate detection, which Service Bus does itself: that row is counted apart, as
# "stand-in", not as storage (Azure runs ``CLEARANCE_BUS_KIND=servicebus``, terraform/).
STAND_IN_TABLE = "busduplicates"
WIRE_KIND = {"stand-in": "table"}  # the port a kind's requests go out on
_REQUEST_LINE = re.compile(rb"[A-Z]+ \S+ HTTP/1\.[01]\r\n")


def transports() -> tuple[type, ...]:
    """Every azure-core transport class the cell's clients send through."""
    from azure.core.pipeline.transport import RequestsTransport

    from shared.adapters.lean_http import LeanTransport

    return (RequestsTransport, LeanTransport)


class CounterMissedRequests(AssertionError):
    """A storage request went out on the wire that no wrapped transport counted."""


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    sent: list[str] = field(default_factory=list)  # ``kind METHOD path``, in order
    lock: threading.Lock = field(default_factory=threading.Lock)
    wire: Counter[str] = field(default_factory=Counter)  # request lines on storage sockets
    resent: Counter[str] = field(default_factory=Counter)  # sent again on a new connection

    def add(self, kind: str, what: str = "") -> None:
        with self.lock:
            self.counts[kind] += 1
            self.sent.append(f"{kind:8} {what}")

    def add_wire(self, kind: str) -> None:
        with self.lock:
            self.wire[kind] += 1

    def add_resent(self, kind: str) -> None:
        with self.lock:
            self.resent[kind] += 1

    def missed(self) -> dict[str, tuple[int, int]]:
        """Storage kinds whose wire count is not the transports' count (+ resends)."""
        with self.lock:
            counted = Counter({k: self.counts[k] + self.resent[k] for k in STORAGE})
            for kind, port_kind in WIRE_KIND.items():
                counted[port_kind] += self.counts[kind] + self.resent[kind]
            return {k: (counted[k], self.wire[k]) for k in STORAGE if self.wire[k] != counted[k]}

    @property
    def storage(self) -> int:
        return sum(self.counts[k] for k in STORAGE)


class Counting:
    """Wraps the transports once; ``measure`` collects what one call sends."""

    def __init__(self, stack: LocalStack) -> None:
        ports = stack.ports
        self._by_port = {
            ports.table: "table",
            ports.queue: "queue",
            ports.blob: "blob",
            **{p: "registry" for p in ports.registry.values()},
        }
        self._tally: Tally | None = None
        self._install()

    def _install(self) -> None:
        from shared.adapters.lean_http import LeanTransport

        counting = self
        self._originals: list[tuple[Any, str, Any]] = []

        def wrap(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
            original = getattr(owner, name)
            self._originals.append((owner, name, original))
            setattr(owner, name, make(original))

        def counted_send(original: Any) -> Any:
            def send(transport: Any, request: Any, **kwargs: Any) -> Any:
                url = urlsplit(request.url)
                query = f"?{unquote(url.query)}" if url.query else ""
                counting._count(
                    counting._kind_of(url.port or 0, unquote(url.path)),
                    f"{request.method} {unquote(url.path)}{query}",
                )
                return original(transport, request, **kwargs)

            return send

        for transport in transports():
            wrap(transport, "send", counted_send)

        def counted_resend(original: Any) -> Any:
            def note(transport: Any, request: Any, stale: Exception) -> Any:
                tally = counting._tally
                if tally is not None:
                    url = urlsplit(request.url)
                    tally.add_resent(counting._kind_of(url.port or 0, unquote(url.path)))
                return original(transport, request, stale)

            return note

        wrap(LeanTransport, "_note_resend", counted_resend)

        def counted_sendall(original: Any) -> Any:
            def sendall(sock: Any, data: Any, *args: Any) -> Any:
                tally = counting._tally
                if tally is not None and _REQUEST_LINE.match(bytes(data[:512])):
                    try:
                        port = sock.getpeername()[1]
                    except OSError:
                        port = 0
                    kind = counting._kind_of_port(port)
                    if kind in STORAGE:
                        tally.add_wire(kind)
                return original(sock, data, *args)

            return sendall

        wrap(socket.socket, "sendall", counted_sendall)

        def counted_mail(original: Any) -> Any:
            def sendmail(smtp: Any, *args: Any, **kwargs: Any) -> Any:
                counting._count("smtp", "sendmail")
                return original(smtp, *args, **kwargs)

            return sendmail

        # send_message ends in sendmail too: each mail is counted once whichever is called
        wrap(smtplib.SMTP, "sendmail", counted_mail)

    def _kind_of_port(self, port: int) -> str:
        return self._by_port.get(port, "other")

    def _kind_of(self, port: int, path: str) -> str:
        kind = self._kind_of_port(port)
        # /<account>/busduplicates, /<account>/busduplicates(...), /<account>/busduplicates()
        parts = path.split("/", 3)
        table = parts[2].split("(", 1)[0] if len(parts) > 2 else ""
        return "stand-in" if kind == "table" and table == STAND_IN_TABLE else kind

    def close(self) -> None:
        """Put the transports back (a test session goes on without the wrappers)."""
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals.clear()

    def _count(self, kind: str, what: str) -> None:
        if self._tally is not None:
            self._tally.add(kind, what)

    @contextmanager
    def measure(self) -> Iterator[Tally]:
        tally = Tally()
        self._tally = tally
        try:
            yield tally
        finally:
            self._tally = None
        missed = tally.missed()
        if missed:
            raise CounterMissedRequests(
                "storage requests on the wire that the transport counter did not see, "
                f"kind: (counted, on the wire): {missed}"
            )


@dataclass
class Row:
    kind: str
    counts: list[Counter[str]] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    sent: list[list[str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        last = self.counts[-1]
        stable = all(c == last for c in self.counts)
        storage = sum(last[k] for k in STORAGE)
        return {
            "event": self.kind,
            **{k: last[k] for k in KINDS},
            "storage": storage,
            "total": sum(last.values()),
            "stable": stable,
            "cpu_ms": statistics.median(self.cpu_ms),
        }


def binding(event: dict[str, Any]) -> Any:
    import azure.functions as func

    return func.EventGridEvent(
        id=event["id"],
        data=event["data"],
        topic=event.get("topic", ""),
        subject=event["subject"],
        event_type=event["eventType"],
        event_time=datetime.fromisoformat(event["eventTime"]),
        data_version=event.get("dataVersion", "1.0"),
    )


# the function each event kind runs in (the span name with telemetry on)
FUNCTIONS = {
    "new artifact, accepted": "acr_image_pushed",
    PUSHER_NAMED: "acr_image_pushed",
    "exact redelivery (same event id)": "acr_image_pushed",
    "duplicate (new id)": "acr_image_pushed",
    "re-tag of a known digest": "acr_image_pushed",
    "rejected": "acr_image_pushed",
    "approval consumer": "approval_requests",
    "first vote": "approval_review_decide",
    "deciding vote": "approval_review_decide",
}


class Bench:
    def __init__(self, stack: LocalStack, counting: Counting, prefix: str = "rt") -> None:
        from shared.composition import Container
        from shared.settings import build_settings

        self.prefix = prefix  # model names are ``<prefix>-<round>``: unique in a shared stack
        self.stack = stack
        self.counting = counting
        self.container = Container(build_settings(stack.environment(REGION)))
        self.registry = stack.registry_client(REGION)
        self.rows: dict[str, Row] = {}
        self.telemetry: Any = None  # the configured telemetry while a round runs with it

    def run(self, kind: str, call: Callable[[], Any], *, report: bool, bound: Any = None) -> Any:
        if self.telemetry is not None:
            from shared.adapters.telemetry.spans import traced_trigger

            inner = call
            traced = traced_trigger(FUNCTIONS.get(kind, "bench"))(lambda binding: inner())

            def call() -> Any:
                out = traced(binding=bound)
                self.telemetry.flush_spans()
                return out

        with self.counting.measure() as tally:
            start = time.process_time()
            result = call()
            cpu = (time.process_time() - start) * 1000
        if report:
            row = self.rows.setdefault(kind, Row(kind))
            row.counts.append(Counter(tally.counts))
            row.cpu_ms.append(cpu)
            row.sent.append(list(tally.sent))
        return result

    def push(self, name: str, tag: str, *, bad: bool = False) -> tuple[str, str]:
        from shared.local.images import push_image

        values = model_labels(name, "1.0.0", region=REGION, zone=ZONE)
        if bad:
            values["ai.clearance.serving.port"] = "80"
        pushed = push_image(self.registry, f"models/{name}", values, tag=tag)
        return f"models/{name}", pushed.digest

    def intake(self, event: dict[str, Any]) -> Any:
        from shared.services.intake.handlers import handle_binding, handle_image_pushed

        return handle_binding(binding(event), handle_image_pushed, self.container.intake())

    def take_approval_request(self, digest: str) -> Any:
        """The approval-requests message the accepted event sent, read off the local queue
        (messages others left there are put back as they were)."""
        from shared.adapters.storage.queue_envelope import QueueEnvelope
        from shared.domain.approval.request import ApprovalRequest
        from shared.queues import APPROVAL_REQUESTS

        queue = self.container.queue_service.get_queue_client(APPROVAL_REQUESTS)
        received = queue.receive_messages(
            messages_per_page=32, max_messages=256, visibility_timeout=30
        )
        for message in received:
            request = ApprovalRequest.model_validate_json(
                QueueEnvelope.decode(message.content).body
            )
            if request.artifact.digest == digest:
                queue.delete_message(message)
                return request
            queue.update_message(message, visibility_timeout=0)
        raise AssertionError(f"no approval request for {digest} on the queue")

    def vote(self, approval_id: str, approver: str) -> Any:
        from shared.services.approval import review

        deps = self.container.approvals()
        token = deps.signer.sign(approval_id, approver, datetime.now(UTC) + timedelta(hours=1))
        form = {"t": token, "csrf": deps.signer.csrf_token(token), "decision": "approve"}
        return review.decide(approval_id, form, None, deps)

    def one_round(self, i: int, *, report: bool) -> None:
        from shared.local.events import image_pushed
        from shared.services.approval.requests import open_request

        name = f"{self.prefix}-{i:03d}"
        repository, digest = self.push(name, "1.0.0")
        event = image_pushed(self.stack, REGION, repository, digest, "1.0.0")
        self.run(
            "new artifact, accepted",
            lambda: self.intake(event),
            report=report,
            bound=binding(event),
        )
        request = self.take_approval_request(digest)
        # the same with the pusher named, as ACR's events do: the pusher's by-actor row joins
        # the catalog transaction (its approval request is taken off the queue, not consumed)
        named_repository, named_digest = self.push(f"{name}-p", "1.0.0")
        named = image_pushed(
            self.stack, REGION, named_repository, named_digest, "1.0.0", actor=PUSHER
        )
        self.run(PUSHER_NAMED, lambda: self.intake(named), report=report, bound=binding(named))
        self.take_approval_request(named_digest)
        deps = self.container.approvals()
        approval = self.run("approval consumer", lambda: open_request(request, deps), report=report)
        self.run("exact redelivery (same event id)", lambda: self.intake(event), report=report)
        twin = image_pushed(self.stack, REGION, repository, digest, "1.0.0")
        self.run("duplicate (new id)", lambda: self.intake(twin), report=report)
        retag = image_pushed(self.stack, REGION, repository, digest, "stable")
        self.run("re-tag of a known digest", lambda: self.intake(retag), report=report)
        bad_repository, bad_digest = self.push(f"{name}-bad", "1.0.0", bad=True)
        rejected = image_pushed(self.stack, REGION, bad_repository, bad_digest, "1.0.0")
        self.run("rejected", lambda: self.intake(rejected), report=report)
        first, second = SAMPLE_APPROVERS[:2]
        self.run("first vote", lambda: self.vote(approval.approval_id, first), report=report)
        self.run("deciding vote", lambda: self.vote(approval.approval_id, second), report=report)
        # the signed checkpoint the decision asked for, signed off the vote's request path
        checkpoint = self.container.decision_checkpoints.flush
        self.run("checkpoint after a decision (async)", checkpoint, report=report)
