"""Intake burst: ImagePushed events for distinct images, closed loop and open loop.

    .venv/bin/python benchmarks/intake_burst.py [--images 500] [--workers 32]
        [--rate 50] [--seconds 20] [--window 2]
        [--only closed-one|closed-both|open|open-shuffled]

Each image gets four events with distinct ids (the tagged push, ACR's untagged twin, a re-push
of the same tag, and a second tag), so three of four are duplicates. Events are delivered the
way Event Grid does (one event per POST, retry on 5xx). Three runs, each on a fresh stack:

- closed loop, one host: 4 x images events to the westeurope host alone (one host + Azurite);
- closed loop, both hosts: the same number of events split over both regions' hosts;
- open loop: one host, events offered at a fixed rate (--rate per second for --seconds),
  each sent at its scheduled time whatever the backlog, so latency includes queueing. The
  mix is steady: image i's four events fall in random order within a window (--window
  seconds) around its slot, so new images arrive at rate/4 per second throughout, each with
  its duplicates close by (as a registry sends them);
- open loop, shuffled (--only open-shuffled, also run by default): the same events shuffled
  over the whole run, as this benchmark offered them before 2026-12-04. Most images' first
  event then falls in the first seconds (about three times rate/4 new images per second at
  the start, almost none at the end): a burst of new images, printed without a target.

CPU per event is read from /proc for the host process(es) and Azurite over the run.
Targets, each printed next to its figure: one host >= 100 events/s on the burst mix (closed
loop, one host); open loop at 50 events/s: p95 push -> approval request < 250 ms; host CPU
per event <= 10 ms averaged over the burst mix (every run; Azurite's is printed alongside).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench_stack import labels, ms, private_stack
from figures import check, latency_line, percentiles, verdict
from proc_cpu import children, cpu_seconds

from shared.composition import Container
from shared.domain.lineage.record import INTAKE_TERMINAL, ArtifactRef, RecordKind
from shared.local.events import deliver, image_pushed
from shared.local.images import push_image
from shared.local.stack import LocalStack
from shared.settings import build_settings

ZONES = {"westeurope": "EU", "swedencentral": "SE"}


def push_all(stack: LocalStack, count: int, regions: tuple[str, ...]) -> list[tuple[str, str, str]]:
    clients = {r: stack.registry_client(r) for r in regions}

    def push(i: int) -> tuple[str, str, str]:
        region = regions[i % len(regions)]
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


@dataclass
class Run:
    title: str
    regions: tuple[str, ...]
    images: int
    workers: int
    rate: float | None = None  # events/s offered (open loop); None: closed loop
    seconds: float | None = None
    host_workers: int = 1
    window: float | None = None  # open loop: steady mix, each image's events in this window (s)


def steady(per_image: list[list[Any]], window: float, rng: random.Random) -> list[Any]:
    """Image i's events at random offsets within ``window`` events of its slot (4 i), in the
    order of those offsets: new images arrive at a quarter of the event rate throughout."""
    slots = [
        (4 * i + rng.uniform(0, window), event)
        for i, events in enumerate(per_image)
        for event in events
    ]
    return [event for _, event in sorted(slots, key=lambda slot: slot[0])]


def new_images_per_second(
    work: list[tuple[str, dict[str, Any]]], rate: float
) -> tuple[float, float]:
    """Mean and peak (over 1 s windows) of the new images offered per second: an image is new
    at its first event."""
    seen: set[str] = set()
    per_second: Counter[int] = Counter()
    for i, (_, event) in enumerate(work):
        digest = event["data"]["target"]["digest"]
        if digest not in seen:
            seen.add(digest)
            per_second[int(i / rate)] += 1
    seconds = max(1, math.ceil(len(work) / rate))
    return len(seen) / seconds, float(max(per_second.values(), default=0))


def deliver_with_retries(stack: LocalStack, region: str, event: dict[str, Any]) -> int:
    attempts = 0
    while True:
        attempts += 1
        status = deliver(stack.host_url(region), "acr_image_pushed", [event])
        if 200 <= status < 300 or attempts >= 20:
            return attempts
        time.sleep(0.2)


def run(spec: Run) -> None:
    with private_stack(host_workers=spec.host_workers) as stack:
        for region in ZONES:
            if region not in spec.regions:
                stack.processes.stop(f"host-{region}")
        images = push_all(stack, spec.images, spec.regions)
        per_image = [
            [(region, e) for e in events_for(stack, region, repo, digest)]
            for region, repo, digest in images
        ]
        if spec.rate is not None and spec.window is not None:
            work = steady(per_image, spec.window * spec.rate, random.Random(7))
        else:
            work = [event for events in per_image for event in events]
            random.Random(7).shuffle(work)
        if spec.rate is not None and spec.seconds is not None:
            work = work[: int(spec.rate * spec.seconds)]
        timings: dict[str, tuple[float, float, int]] = {}
        hosts = [stack.processes.pid(f"host-{r}") for r in spec.regions]
        pids = {"host": [*hosts, *(c for h in hosts if h for c in children(h))]}
        pids["azurite"] = [stack.processes.pid("azurite")]
        cpu_before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
        t0 = time.perf_counter()

        def send(indexed: tuple[int, tuple[str, dict[str, Any]]]) -> None:
            i, (region, event) = indexed
            if spec.rate is not None:
                due = t0 + i / spec.rate
                time.sleep(max(0.0, due - time.perf_counter()))
                start = due  # open loop: latency counts from the scheduled send
            else:
                start = time.perf_counter()
            attempts = deliver_with_retries(stack, region, event)
            timings[event["id"]] = (start, time.perf_counter(), attempts)

        workers = spec.workers if spec.rate is None else max(spec.workers, 64)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(send, enumerate(work)))
        wall = time.perf_counter() - t0
        cpu = {k: sum(cpu_seconds(p) for p in v) - cpu_before[k] for k, v in pids.items()}
        report(spec, stack, images, work, timings, wall, cpu)


def report(
    spec: Run,
    stack: LocalStack,
    images: list[tuple[str, str, str]],
    work: list[tuple[str, dict[str, Any]]],
    timings: dict[str, tuple[float, float, int]],
    wall: float,
    cpu: dict[str, float],
) -> None:
    cells = {r: Container(build_settings(stack.environment(r))) for r in spec.regions}
    sent = {e["id"] for _, e in work}
    kinds: Counter[str] = Counter()
    terminal_per_event: Counter[str] = Counter()
    push_to_request: list[float] = []
    expected_requests = 0
    for region, repo, digest in images:
        mine = [e for _, e in work if e["data"]["target"]["digest"] == digest]
        if not mine:
            continue
        expected_requests += 1
        artifact = ArtifactRef(
            kind="image", registry=stack.login_server(region), repository=repo, digest=digest
        )
        first_seen = min(timings[e["id"]][0] for e in mine)
        for r in cells[region].lineage.list_for(artifact.key_hash):  # type: ignore[attr-defined]
            if r.kind in INTAKE_TERMINAL and (r.correlation.event_id or "?") in sent:
                kinds[str(r.kind)] += 1
                terminal_per_event[r.correlation.event_id or "?"] += 1
            if r.kind is RecordKind.APPROVAL_REQUESTED and r.correlation.event_id in timings:
                push_to_request.append(timings[r.correlation.event_id][1] - first_seen)
    per_event = [end - start for start, end, _ in timings.values()]
    retries = sum(a - 1 for _, _, a in timings.values())
    exactly_once = sum(1 for e in timings if terminal_per_event[e] == 1)
    hosts = len(spec.regions)
    per_host = len(work) / wall / hosts
    host_ms, azurite_ms = (cpu[k] / len(work) * 1000 for k in ("host", "azurite"))
    print(f"\n### {spec.title}")
    offered = f", offered at {spec.rate:g} events/s" if spec.rate else ""
    print(f"events delivered          : {len(work)} ({retries} Event Grid retries){offered}")
    print(f"wall time                 : {wall:8.2f} s")
    throughput = f"throughput                : {len(work) / wall:8.1f} events/s overall, "
    if spec.rate is None and hosts == 1:
        print(throughput + f"{per_host:.1f} per host {verdict(per_host, '>=', 100, 'events/s')}")
    else:  # the target is for one host alone, closed loop
        print(throughput + f"{per_host:.1f} per host")
    if spec.rate is not None:
        mean, peak = new_images_per_second(work, spec.rate)
        print(
            f"new images offered        : {mean:8.1f} per second on average, at most {peak:.0f} in"
            f" one second ({'steady mix' if spec.window is not None else 'shuffled'})"
        )
    if spec.rate is not None and spec.window is not None:
        print(latency_line("push -> approval request  ", push_to_request, "<", 250))
    else:
        p = percentiles(push_to_request)
        print(
            f"push -> approval request  : p50 {ms(p['p50'])}  p95 {ms(p['p95'])}  "
            f"p99 {ms(p['p99'])}  ({'closed loop' if spec.rate is None else 'shuffled'};"
            " the target is for the open loop's steady mix)"
        )
    q = percentiles(per_event)
    print(f"per delivery (any outcome): p50 {ms(q['p50'])}  p95 {ms(q['p95'])}  p99 {ms(q['p99'])}")
    print(
        f"host CPU per event        : {host_ms:8.1f} ms averaged over the burst mix "
        f"{verdict(host_ms, '<=', 10, 'ms')}"
    )
    print(
        f"Azurite CPU per event     : {azurite_ms:8.1f} ms (no target; "
        f"host {cpu['host'] / wall / hosts:.2f} cores each, Azurite {cpu['azurite'] / wall:.2f})"
    )
    requested = kinds["approval.requested"]
    print(
        f"approval requests         : {requested} (expected {expected_requests}, one per "
        f"distinct image: {check(requested, expected_requests)})"
    )
    print(f"terminal records          : {dict(sorted(kinds.items()))}")
    print(
        f"events with exactly one terminal record: {exactly_once} of {len(work)} "
        f"({check(exactly_once, len(work))})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--window", type=float, default=2.0, help="open loop: the seconds an image's events span"
    )
    parser.add_argument("--only", choices=["closed-one", "closed-both", "open", "open-shuffled"])
    parser.add_argument(
        "--host-workers", type=int, default=1, help="FUNCTIONS_WORKER_PROCESS_COUNT per host"
    )
    args = parser.parse_args()
    both = tuple(ZONES)
    runs = {
        "closed-one": Run(
            "closed loop, one host (westeurope)", both[:1], args.images, args.workers
        ),
        "closed-both": Run("closed loop, both hosts", both, args.images, args.workers),
        "open": Run(
            f"open loop, steady mix, one host, {args.rate:.0f} events/s for {args.seconds:.0f} s",
            both[:1],
            max(1, int(args.rate * args.seconds / 4) + 1),
            args.workers,
            rate=args.rate,
            seconds=args.seconds,
            window=args.window,
        ),
        "open-shuffled": Run(
            f"open loop, shuffled, one host, {args.rate:.0f} events/s for {args.seconds:.0f} s",
            both[:1],
            max(1, int(args.rate * args.seconds / 4) + 1),
            args.workers,
            rate=args.rate,
            seconds=args.seconds,
        ),
    }
    for name, spec in runs.items():
        if args.only in (None, name):
            spec.host_workers = args.host_workers
            spec.title += f", {args.host_workers} worker process(es) per host"
            run(spec)


if __name__ == "__main__":
    main()
