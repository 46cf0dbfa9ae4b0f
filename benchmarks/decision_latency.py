"""Decision latency: POST approve (the vote that completes the quorum) -> deployment request
enqueued, on the westeurope cell, closed loop and open loop.

    .venv/bin/python benchmarks/decision_latency.py [--approvals 10] [--open-approvals 100]
        [--rate 50] [--only closed|open]

Each approval is prepared the same way: the image is pushed, its ImagePushed event delivered
to the host (intake), the approval consumer opens the approval, and all votes but the last
are cast. The deciding POST enqueues the deployment request before it answers, so its round
trip is the latency an approver waits for (an upper bound of the time to the enqueue).

- closed loop: one approval at a time, the first and the deciding vote sent back to back
  (p50/p95 of both);
- open loop: --open-approvals approvals prepared first, then their deciding votes offered at
  --rate per second, each sent at its scheduled time whatever the backlog, so latency counts
  from the scheduled send and includes queueing (as intake_burst.py's open loop).

Target: open loop at 50 votes/s, deciding vote -> deployment request p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench_stack import labels, ms, private_stack
from figures import check, latency_line, percentiles
from proc_cpu import children, cpu_seconds

from shared.adapters.storage.approvals import TableApprovalStore
from shared.composition import Container
from shared.domain.approval.links import LinkSigner
from shared.domain.approval.record import ApprovalState, approval_id_for
from shared.domain.errors import TerminalError
from shared.domain.lineage.record import ArtifactRef
from shared.local.events import deliver, image_pushed
from shared.local.images import push_image
from shared.local.stack import SAMPLE_APPROVERS, LocalStack
from shared.settings import build_settings

REGION = "westeurope"
TARGET_P95_MS = 100.0


@dataclass(frozen=True)
class Vote:
    """A signed approve, ready to POST (signing stays out of the measured time)."""

    url: str
    form: bytes


def vote(url: str, signer: LinkSigner, approval_id: str, approver: str) -> Vote:
    token = signer.sign(approval_id, approver, datetime.now(UTC) + timedelta(hours=1))
    form = urllib.parse.urlencode(
        {"t": token, "csrf": signer.csrf_token(token), "decision": "approve"}
    ).encode()
    return Vote(f"{url}/api/approvals/{approval_id}/review", form)


def send(v: Vote) -> int:
    """POST one vote; the HTTP status (0 when the host did not answer)."""
    request = urllib.request.Request(v.url, data=v.form, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (urllib.error.URLError, OSError):
        return 0


def post_vote(url: str, signer: LinkSigner, approval_id: str, approver: str) -> float:
    v = vote(url, signer, approval_id, approver)
    start = time.perf_counter()
    status = send(v)
    took = time.perf_counter() - start
    if not 200 <= status < 300:
        raise RuntimeError(f"vote on {approval_id} answered {status}")
    return took


def open_request(
    stack: LocalStack, client: object, store: TableApprovalStore, name: str
) -> tuple[str, int]:
    """Push, deliver, wait for the approval consumer; the approval id and its quorum."""
    pushed = push_image(client, f"models/{name}", labels(name, "1.0.0", REGION, "EU"), tag="1.0.0")
    event = image_pushed(stack, REGION, f"models/{name}", pushed.digest, "1.0.0")
    deliver(stack.host_url(REGION), "acr_image_pushed", [event])
    artifact = ArtifactRef(
        kind="image",
        registry=stack.login_server(REGION),
        repository=f"models/{name}",
        digest=pushed.digest,
    )
    approval_id = approval_id_for(artifact, REGION)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            approval = store.get(approval_id)[0]
            return approval_id, approval.min_approvals
        except TerminalError:
            time.sleep(0.05)
    raise RuntimeError(f"approval {approval_id} never opened")


def voters(quorum: int) -> tuple[tuple[str, ...], str]:
    """The approvers who vote first, and the one whose vote decides."""
    if not 1 <= quorum <= len(SAMPLE_APPROVERS):
        raise RuntimeError(f"quorum {quorum} needs more than the sample approvers")
    return SAMPLE_APPROVERS[: quorum - 1], SAMPLE_APPROVERS[quorum - 1]


def check_dispatched(store: TableApprovalStore, approval_ids: list[str]) -> int:
    """How many of the approvals are approved with their deployment request dispatched."""
    done = 0
    for approval_id in approval_ids:
        approval = store.get(approval_id)[0]
        if approval.state is ApprovalState.APPROVED and approval.dispatched:
            done += 1
    return done


class Cell:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.url = stack.host_url(REGION)
        self.store = TableApprovalStore(
            Container(build_settings(stack.environment(REGION))).table_service
        )
        self.signer = LinkSigner({k: v.encode() for k, v in stack.state.link_keys.items()})
        self.client = stack.registry_client(REGION)


def closed_loop(cell: Cell, count: int) -> None:
    first, deciding, ids = [], [], []
    for i in range(count):
        approval_id, quorum = open_request(cell.stack, cell.client, cell.store, f"decide-{i:03d}")
        early, last = voters(quorum)
        for approver in early:
            first.append(post_vote(cell.url, cell.signer, approval_id, approver))
        deciding.append(post_vote(cell.url, cell.signer, approval_id, last))
        ids.append(approval_id)
    dispatched = check_dispatched(cell.store, ids)
    f, d = percentiles(first), percentiles(deciding)
    print("\n### closed loop, one approval at a time")
    print(
        f"approvals decided              : {count}, {dispatched} approved and dispatched "
        f"({check(dispatched, count)})"
    )
    print(f"first vote (quorum not reached): p50 {ms(f['p50'])}  p95 {ms(f['p95'])}")
    print(
        f"deciding vote -> deployment request enqueued: p50 {ms(d['p50'])}  p95 {ms(d['p95'])}"
        "  (sequential; the target is for the open loop)"
    )
    if dispatched != count:
        raise RuntimeError(f"only {dispatched} of {count} approvals dispatched")


def prepare(cell: Cell, count: int) -> list[tuple[str, Vote]]:
    """Approvals that need one more vote, and that vote, signed."""

    def one(i: int) -> tuple[str, Vote]:
        approval_id, quorum = open_request(cell.stack, cell.client, cell.store, f"open-{i:04d}")
        early, last = voters(quorum)
        for approver in early:
            post_vote(cell.url, cell.signer, approval_id, approver)
        return approval_id, vote(cell.url, cell.signer, approval_id, last)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def open_loop(cell: Cell, count: int, rate: float) -> None:
    started = time.perf_counter()
    prepared = prepare(cell, count)
    took = time.perf_counter() - started
    time.sleep(2)  # let the last first votes' consumers settle before the clock starts
    results: list[tuple[float, int]] = [(0.0, 0)] * count
    host = cell.stack.processes.pid(f"host-{REGION}")
    pids = {"host": [host, *(children(host) if host else [])]}
    pids["azurite"] = [cell.stack.processes.pid("azurite")]
    cpu_before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    t0 = time.perf_counter()

    def offer(indexed: tuple[int, tuple[str, Vote]]) -> None:
        i, (_, v) = indexed
        due = t0 + i / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        status = send(v)
        results[i] = (time.perf_counter() - due, status)  # from the scheduled send

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(offer, enumerate(prepared)))
    wall = time.perf_counter() - t0
    cpu = {k: sum(cpu_seconds(p) for p in v) - cpu_before[k] for k, v in pids.items()}
    ok = [latency for latency, status in results if 200 <= status < 300]
    failed = count - len(ok)
    dispatched = check_dispatched(cell.store, [approval_id for approval_id, _ in prepared])
    print(f"\n### open loop, deciding votes offered at {rate:g} votes/s")
    print(
        f"approvals prepared             : {count} in {took:.1f} s "
        "(push, intake, consumer, first vote)"
    )
    print(
        f"deciding votes sent            : {count} in {wall:.2f} s "
        f"({count / wall:.1f} votes/s achieved), {failed} not answered 2xx"
    )
    print(latency_line("deciding vote -> deployment request enqueued", ok, "<", TARGET_P95_MS))
    print(
        f"CPU while the votes were sent  : host {cpu['host']:.1f} s, Azurite {cpu['azurite']:.1f} s"
        f" in {wall:.1f} s on {os.cpu_count()} cores; per vote host {cpu['host'] / count * 1e3:.0f}"
        f" ms, Azurite {cpu['azurite'] / count * 1e3:.0f} ms (with the deployments the votes"
        " start, which the same host runs meanwhile)"
    )
    print(
        f"approvals approved and dispatched: {dispatched} of {count} ({check(dispatched, count)})"
    )
    if failed or dispatched != count:
        raise RuntimeError(f"{failed} votes failed, {count - dispatched} approvals not dispatched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--approvals", type=int, default=10, help="closed loop approvals")
    parser.add_argument("--open-approvals", type=int, default=100, help="open loop approvals")
    parser.add_argument("--rate", type=float, default=50.0, help="open loop votes per second")
    parser.add_argument("--only", choices=["closed", "open"])
    args = parser.parse_args()
    if args.rate <= 0 or args.approvals < 1 or args.open_approvals < 1:
        parser.error("--rate, --approvals and --open-approvals must be positive")
    with private_stack() as stack:
        cell = Cell(stack)
        if args.only in (None, "closed"):
            closed_loop(cell, args.approvals)
        if args.only in (None, "open"):
            open_loop(cell, args.open_approvals, args.rate)


if __name__ == "__main__":
    main()
