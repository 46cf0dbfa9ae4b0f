"""The local host with several worker processes behind one port, as the Functions host runs
``FUNCTIONS_WORKER_PROCESS_COUNT`` workers: concurrent deliveries are spread over them, every
event still ends in exactly one terminal record, and stopping the host stops every worker."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared.composition import Container
from shared.domain.lineage.record import INTAKE_TERMINAL, ArtifactRef, RecordKind
from shared.local.devhost.__main__ import worker_count
from shared.local.events import deliver, image_pushed
from shared.local.images import push_image
from shared.local.samples import model_labels
from shared.local.stack import LocalStack
from tests.conftest import wait_for

pytestmark = pytest.mark.stack
REGION = "westeurope"


def workers_of(pid: int) -> dict[int, str]:
    """``pid``'s child processes and their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError, IndexError):
            continue
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def two_workers(stack: LocalStack) -> Iterator[LocalStack]:
    stack.stop_hosts()
    stack.host_workers = 2
    try:
        stack.start_part(f"host-{REGION}", timeout=60)
        yield stack
    finally:
        stack.processes.stop(f"host-{REGION}")
        stack.host_workers = 1


def test_two_workers_share_the_port_and_handle_each_event_once(
    two_workers: LocalStack, cell_container: Callable[[str], Container]
) -> None:
    stack = two_workers
    supervisor = stack.processes.pid(f"host-{REGION}")
    assert supervisor is not None
    children = wait_for(lambda: (c := workers_of(supervisor)) and len(c) == 2 and c)
    indexes = sorted(cmd.split("--worker-index ")[1].strip() for cmd in children.values())
    assert indexes == ["0", "1"]

    client = stack.registry_client(REGION)
    images = []
    for i in range(4):
        name = f"workers-{i}"
        labels = model_labels(name, "1.0.0", region=REGION, zone="EU")
        pushed = push_image(client, f"models/{name}", labels, tag="1.0.0")
        images.append((f"models/{name}", pushed.digest))
    events = [
        image_pushed(stack, REGION, repo, digest, tag)
        for repo, digest in images
        for tag in ("1.0.0", None, "1.0.0", "stable", "1.0.0")
    ]
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(
            pool.map(lambda e: deliver(stack.host_url(REGION), "acr_image_pushed", [e]), events)
        )
    assert all(200 <= s < 300 for s in statuses), statuses

    cell = cell_container(REGION)

    def read() -> tuple[Counter[str], int, dict[str, list[str]]]:
        terminal: Counter[str] = Counter()
        requested = 0
        trace: dict[str, list[str]] = {}  # what each image's chain holds, for a failure message
        for repo, digest in images:
            artifact = ArtifactRef(
                kind="image", registry=stack.login_server(REGION), repository=repo, digest=digest
            )
            for record in cell.lineage.list_for(artifact.key_hash):  # type: ignore[attr-defined]
                if record.kind in INTAKE_TERMINAL:
                    terminal[record.correlation.event_id or "?"] += 1
                requested += record.kind is RecordKind.APPROVAL_REQUESTED
                trace.setdefault(repo, []).append(
                    f"{record.kind.value} {record.correlation.event_id} "
                    + " ".join(f"{r.code}: {r.message}" for r in record.reasons)
                    + (f" {record.details}" if record.details else "")
                )
        return terminal, requested, trace

    # The registry's own notification of each push reaches the host through the bridge as
    # well, concurrently with these deliveries: when it claims an image first, these end as
    # "being handled by another delivery" and the request follows when the bridge's delivery
    # ends, which may be after these returned. Wait for it (a request that never comes fails).
    deadline = time.monotonic() + 30
    terminal, requested, trace = read()
    while requested < len(images) and time.monotonic() < deadline:
        time.sleep(0.2)
        terminal, requested, trace = read()
    assert requested == len(images), trace
    assert {e["id"]: terminal[e["id"]] for e in events} == {e["id"]: 1 for e in events}, trace

    assert set(workers_of(supervisor)) == set(children)  # no worker died on the way
    stack.processes.stop(f"host-{REGION}")
    assert not alive(supervisor)
    assert not [pid for pid in children if alive(pid)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", 1), ("4", 4), ("", 1), (None, 1)],
)
def test_worker_count_reads_the_functions_setting(raw: str | None, expected: int) -> None:
    environ = {} if raw is None else {"FUNCTIONS_WORKER_PROCESS_COUNT": raw}
    assert worker_count(environ) == expected


@pytest.mark.parametrize("raw", ["0", "11", "two", "-1"])
def test_a_bad_worker_count_fails_naming_the_setting(raw: str) -> None:
    with pytest.raises(SystemExit, match="FUNCTIONS_WORKER_PROCESS_COUNT"):
        worker_count({"FUNCTIONS_WORKER_PROCESS_COUNT": raw})
