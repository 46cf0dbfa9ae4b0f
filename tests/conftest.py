"""Shared fixtures: the real local stack parts on free ports, one per test session."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.composition import Container
from shared.local.stack import LocalStack, StackPorts
from shared.settings import build_settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Azurite, both TLS registries, SMTP and the Teams receiver; hosts start per test."""
    root = tmp_path_factory.mktemp("stack")
    local = LocalStack(root, REPO, ports=StackPorts.free())
    try:
        local.up(timeout=120, hosts=False)
        yield local
    finally:
        local.down()


@pytest.fixture(scope="session")
def cell_container(stack: LocalStack) -> Callable[[str], Container]:
    cache: dict[str, Container] = {}

    def build(region: str) -> Container:
        if region not in cache:
            cache[region] = Container(build_settings(stack.environment(region)))
        return cache[region]

    return build


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until ``predicate`` returns something truthy; fail with a clear message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
