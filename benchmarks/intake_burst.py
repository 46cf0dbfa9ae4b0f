"""Intake burst: 2,000 ImagePushed events for 500 distinct images, to both regions at once.

    .venv/bin/python benchmarks/intake_burst.py [--images 500] [--workers 32]

Each image gets four events with distinct ids (the tagged push, ACR's untagged twin, a re-push
of the same tag, and a second tag), so three of four are duplicates. Events are delivered
concurrently to both regions' hosts the way Event Grid does (one event per POST, retry on 5xx).
Targets: p95 push -> approval request under 500 ms; >= 100 events/s per host.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench_stack import labels, ms, percentiles, private_stack

from shared.composition import Container
from shared.domain.lineage.record import INTAKE_TERMINAL, ArtifactRef, RecordKind
from shared.local.events import deliver, image_pushed
from shared.local.images import push_image
from shared.local.stack import LocalStack
from shared.settings import build_settings

ZONES = {"westeurope": "EU", "swedencentral": "SE"}


def push_all(stack: LocalStack, count: int) -> list[tuple[str, str, str]]:

    clients = {r: stack.registry_client(r) for r in ZONES}

    def push(i: int) -> tuple[str, str, str]:
        region = list(ZONES)[i % 2]
        name = f"burst-{i:04d}"
        pushed = push_image(
            clients[region],
            f"models/{name}",
            labels(name, "1.0.0", region, ZONES[region]),
            tag="1.0.0",
        )
        return region, f"models/{name}", pushed.digest

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(push, range(count)))


def events_for(
    stack: LocalStack, region: str, repository: str, digest: str
) -> list[dict[str, Any]]:
    """The tagged push, ACR's untagged twin, a re-push of the tag, a second tag."""
    return [
        image_pushed(stack, region, repository, digest, tag)
        for tag in ("1.0.0", None, "1.0.0", "stable")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    with private_stack() as stack:
        t = time.perf_counter()
        images = push_all(stack, args.images)
        print(f"pushed {len(images)} images in {time.perf_counter() - t:.1f}s (set-up, not timed)")
        work = [
            (region, e)
            for region, repo, digest in images
            for e in events_for(stack, region, repo, digest)
        ]
        random.Random(7).shuffle(work)
        timings: dict[str, tuple[float, float, int]] = {}

        def send(item: tuple[str, dict[str, Any]]) -> None:
            region, event = item
            start = time.perf_counter()
            attempts = 0
            while True:
                attempts += 1
                status = deliver(stack.host_url(region), "acr_image_pushed", [event])
                if 200 <= status < 300 or attempts >= 20:
                    break
                time.sleep(0.2)
            timings[event["id"]] = (start, time.perf_counter(), attempts)

        wall = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(send, work))
        wall = time.perf_counter() - wall

        cells = {r: Container(build_settings(stack.environment(r))) for r in ZONES}
        kinds: Counter[str] = Counter()
        terminal_per_event: Counter[str] = Counter()
        first_seen: dict[str, float] = {}
        push_to_request: list[float] = []
        for region, repo, digest in images:
            artifact = ArtifactRef(
                kind="image", registry=stack.login_server(region), repository=repo, digest=digest
            )
            records = cells[region].lineage.list_for(artifact.key_hash)  # type: ignore[attr-defined]
            mine = [e for r, e in work if e["data"]["target"]["digest"] == digest]
            first_seen[digest] = min(timings[e["id"]][0] for e in mine)
            for r in records:
                if r.kind in INTAKE_TERMINAL:
                    kinds[str(r.kind)] += 1
                    terminal_per_event[r.correlation.event_id or "?"] += 1
                if r.kind is RecordKind.APPROVAL_REQUESTED:
                    done = timings[r.correlation.event_id or ""][1]
                    push_to_request.append(done - first_seen[digest])
        per_event = [end - start for start, end, _ in timings.values()]
        retries = sum(a - 1 for _, _, a in timings.values())
        exactly_once = sum(1 for e in timings if terminal_per_event[e] == 1)
        p = percentiles(push_to_request)
        q = percentiles(per_event)
        print(f"events delivered          : {len(work)} ({retries} Event Grid retries)")
        print(f"wall time                 : {wall:8.2f} s")
        print(
            f"throughput                : {len(work) / wall:8.1f} events/s overall, "
            f"{len(work) / wall / 2:.1f} per host (target >= 100 per host)"
        )
        print(
            f"push -> approval request  : p50 {ms(p['p50'])}  p95 {ms(p['p95'])}  "
            f"p99 {ms(p['p99'])}  (target p95 < 500 ms)"
        )
        print(
            f"per delivery (any outcome): p50 {ms(q['p50'])}  p95 {ms(q['p95'])}  "
            f"p99 {ms(q['p99'])}"
        )
        print(f"approval requests         : {kinds['approval.requested']} (expected {len(images)})")
        print(f"terminal records          : {dict(sorted(kinds.items()))}")
        print(f"events with exactly one terminal record: {exactly_once} of {len(work)}")


if __name__ == "__main__":
    main()
