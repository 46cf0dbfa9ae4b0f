"""Fixtures: a westeurope approval cell whose policy names only an Entra group."""

from __future__ import annotations

import pytest

from shared.domain.catalog import ApprovalPolicy, RegionCatalog
from shared.services.approval.requests import ApprovalDeps
from tests.support.approval_cell import GROUP, deps_for


@pytest.fixture
def group_only(catalog: RegionCatalog) -> ApprovalDeps:
    return deps_for(catalog, ApprovalPolicy(approver_groups=(GROUP,), min_approvals=2))
