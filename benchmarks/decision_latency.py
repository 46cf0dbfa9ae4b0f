"""Decision latency: POST approve (the vote that completes the quorum) -> deployment request
enqueued, on the westeurope cell.

    .venv/bin/python benchmarks/decision_latency.py [--approvals 40]

The deciding POST enqueues the deployment request before it answers, so its round trip is the
latency an approver waits for. Reported: p50/p95 of the deciding vote, and of the first vote.
"""

from __future__ import annotations

import argparse
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from bench_stack import labels, ms, percentiles, private_stack

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


def post_vote(url: str, signer: LinkSigner, approval_id: str, approver: str) -> float:
    token = signer.sign(approval_id, approver, datetime.now(UTC) + timedelta(hours=1))
    form = urllib.parse.urlencode(
        {"t": token, "csrf": signer.csrf_token(token), "decision": "approve"}
    ).encode()
    start = time.perf_counter()
    request = urllib.request.Request(
        f"{url}/api/approvals/{approval_id}/review", data=form, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        r.read()
    return time.perf_counter() - start


def open_request(stack: LocalStack, client: object, store: TableApprovalStore, i: int) -> str:
    name = f"decide-{i:03d}"
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
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            store.get(approval_id)
            return approval_id
        except TerminalError:
            time.sleep(0.05)
    raise RuntimeError(f"approval {approval_id} never opened")


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--approvals", type=int, default=40)
    args = parser.parse_args()
    with private_stack() as stack:
        cell = Container(build_settings(stack.environment(REGION)))
        store = TableApprovalStore(cell.table_service)
        signer = LinkSigner({k: v.encode() for k, v in stack.state.link_keys.items()})
        client = stack.registry_client(REGION)
        first, deciding = [], []
        for i in range(args.approvals):
            approval_id = open_request(stack, client, store, i)
            one, two = SAMPLE_APPROVERS
            first.append(post_vote(stack.host_url(REGION), signer, approval_id, one))
            deciding.append(post_vote(stack.host_url(REGION), signer, approval_id, two))
            approval = store.get(approval_id)[0]
            if approval.state is not ApprovalState.APPROVED or not approval.dispatched:
                raise RuntimeError(f"{approval_id} not approved and dispatched: {approval.state}")
        f, d = percentiles(first), percentiles(deciding)
        print(f"approvals decided              : {args.approvals} (each dispatched)")
        print(f"first vote (quorum not reached): p50 {ms(f['p50'])}  p95 {ms(f['p95'])}")
        print(
            f"deciding vote -> deployment request enqueued: p50 {ms(d['p50'])}  p95 {ms(d['p95'])}"
        )


if __name__ == "__main__":
    main()
