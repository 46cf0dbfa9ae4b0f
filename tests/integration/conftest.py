"""Fixtures of the integration tests: both regions' hosts as real processes, per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shared.composition import Container
from shared.local.stack import REGIONS, LocalStack


@pytest.fixture(scope="module")
def hosts(stack: LocalStack) -> Iterator[LocalStack]:
    for region in REGIONS:
        stack.start_host(region)
    stack._wait(stack._host_checks(), timeout=60)
    yield stack
    for region in REGIONS:
        stack.processes.stop(f"host-{region}")


@pytest.fixture(scope="module")
def cell(cell_container: Callable[[str], Container]) -> Container:
    return cell_container("westeurope")
