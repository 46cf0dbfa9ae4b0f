"""Fixtures of the deployment unit tests: the westeurope cell of the local catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.domain.catalog import RegionEntry
from tests.unit.deploy import samples as deploy_samples


@pytest.fixture
def cell(tmp_path: Path) -> RegionEntry:
    return deploy_samples.cell(tmp_path, deployer="kubernetes")


@pytest.fixture
def gitops_cell(tmp_path: Path) -> RegionEntry:
    return deploy_samples.cell(tmp_path, deployer="gitops")
