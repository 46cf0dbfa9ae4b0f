"""Fixtures of the integration tests: both regions' hosts as real processes, per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shared.composition import Container
from shared.local.stack import LocalStack


@pytest.fixture(scope="module")
def hosts(stack: LocalStack) -> Iterator[LocalStack]:
    stack.start_hosts(timeout=60)
    yield stack
    stack.stop_hosts()


@pytest.fixture(scope="module")
def cell(cell_container: Callable[[str], Container]) -> Container:
    return cell_container("westeurope")
