"""The environments under terraform/environments and their tfvars."""

from __future__ import annotations

from typing import Any

from tests.terraform.hcl import ENVIRONMENTS, load_file

ENVIRONMENT_NAMES = sorted(p.name for p in ENVIRONMENTS.iterdir() if (p / "main.tf").exists())
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def tfvars(environment: str) -> dict[str, Any]:
    """The environment's values: the ``environment`` object of its terraform.tfvars, the input
    of modules/environment (``name`` is the short environment name)."""
    return load_file(ENVIRONMENTS / environment / "terraform.tfvars")["environment"]


def regions_in_rollout_order(environment: str) -> list[str]:
    """The regions map's entries in file order, which is the pipeline's rollout order."""
    return list(tfvars(environment)["regions"])
