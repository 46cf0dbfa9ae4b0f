"""Shared set-up of the benchmarks: a private two-region stack on free ports, and sample labels."""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.local.samples import model_labels  # noqa: E402
from shared.local.stack import LocalStack, StackPorts  # noqa: E402


@contextlib.contextmanager
def private_stack(
    *, registry_notifications: bool = False, host_workers: int = 1
) -> Iterator[LocalStack]:
    # a stopped benchmark (SIGTERM) still stops the processes it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="clearance-bench-") as root:
        stack = LocalStack(
            Path(root),
            REPO,
            ports=StackPorts.free(),
            registry_notifications=registry_notifications,
            host_workers=host_workers,
        )
        try:
            stack.up(timeout=180)
            yield stack
        finally:
            stack.down()


def labels(name: str, version: str, region: str, zone: str) -> dict[str, str]:
    return model_labels(name, version, region=region, zone=zone)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"
