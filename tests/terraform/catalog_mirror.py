"""A Python rendering of terraform/modules/catalog, to validate environments without Terraform.

It follows names.tf and document.tf line by line. test_catalog.py keeps it honest: its keys
are checked against the HCL object literals, and where a terraform binary is installed the
two renderings of every environment must be identical.
"""

from __future__ import annotations

import hashlib
from typing import Any

_POLICY_DEFAULTS = {
    "approvers": [],
    "approver_groups": [],
    "min_approvals": 2,
    "expiry_hours": 72,
    "require_sign_in": False,
}


def names(prefix: str, environment: str, region: str) -> dict[str, str]:
    short = f"{prefix}{environment}{region[:9]}{hashlib.md5(region.encode()).hexdigest()[:4]}"  # noqa: S324
    dashed = f"{prefix}-{environment}-{region}"
    return {
        "resource_group": f"rg-{dashed}",
        "serving_resource_group": f"rg-{dashed}-serving",
        "function_app": f"func-{dashed}",
        "service_plan": f"asp-{dashed}",
        "service_bus": f"sb-{dashed}",
        "application_insights": f"appi-{dashed}",
        "log_analytics": f"log-{dashed}",
        "storage_account": f"st{short}",
        "key_vault": f"kv{short}",
        "registry": f"cr{short}",
        "aml_storage_account": f"sm{short}",
        "aml_key_vault": f"km{short}",
        "aks_cluster": f"aks-{dashed}",
        "aml_workspace": f"mlw-{dashed}",
        "aml_compute": "serving",
        "monitor_workspace": f"amw-{dashed}",
    }


def _approval(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "default": {**_POLICY_DEFAULTS, **raw["default"]},
        "by_risk_tier": {
            tier: {**_POLICY_DEFAULTS, **policy}
            for tier, policy in raw.get("by_risk_tier", {}).items()
        },
    }


def _split_id(resource_id: str) -> tuple[str, str, str]:
    parts = resource_id.split("/")
    return parts[2], parts[4], parts[8]


def _entry(tfvars: dict[str, Any], region: str, cfg: dict[str, Any], sub: str) -> dict[str, Any]:
    n = names(tfvars["name_prefix"], tfvars["name"], region)
    existing = cfg.get("existing", {})
    gitops = {"branch": "main", "path": "regions", **tfvars["gitops"]}
    if existing.get("registry_id"):
        registry = {
            "login_server": f"{_split_id(existing['registry_id'])[2].lower()}.azurecr.io",
            "resource_id": existing["registry_id"],
        }
    else:
        registry = {
            "login_server": f"{n['registry']}.azurecr.io",
            "resource_id": (
                f"/subscriptions/{sub}/resourceGroups/{n['serving_resource_group']}"
                f"/providers/Microsoft.ContainerRegistry/registries/{n['registry']}"
            ),
        }
    aks_sub, aks_rg, aks_name = (
        _split_id(existing["aks_cluster_id"])
        if existing.get("aks_cluster_id")
        else (sub, n["serving_resource_group"], n["aks_cluster"])
    )
    aml_sub, aml_rg, aml_ws = (
        _split_id(existing["aml_workspace_id"])
        if existing.get("aml_workspace_id")
        else (sub, n["serving_resource_group"], n["aml_workspace"])
    )
    return {
        "name": region,
        "residency_zone": cfg["zone"],
        "function_app_url": f"https://{n['function_app']}.azurewebsites.net",
        "registry": registry,
        "storage": {"account_name": n["storage_account"]},
        "service_bus": {"namespace": f"{n['service_bus']}.servicebus.windows.net"},
        "approval": _approval(cfg.get("approval") or tfvars["approval"]),
        "deployer": cfg.get("deployer") or tfvars.get("deployer", "gitops"),
        "aks": {
            "cluster_name": aks_name,
            "resource_group": aks_rg,
            "subscription_id": aks_sub,
            "api_server_url": None,
            "kubernetes_version": tfvars.get("kubernetes_version", "1.35"),
            "namespace_mode": "team" if tfvars.get("model_teams") else "model",
        },
        "aml": {
            "subscription_id": aml_sub,
            "resource_group": aml_rg,
            "workspace": aml_ws,
            "compute": (existing.get("aml_compute") if existing.get("aml_workspace_id") else None)
            or n["aml_compute"],
        },
        "gitops": {
            "repository_url": gitops["repository_url"],
            "branch": gitops["branch"],
            "path": cfg.get("gitops_path") or f"{gitops['path']}/{region}",
        },
        # set from the workload's Azure Monitor workspace endpoint at apply time
        "analysis": None,
        "supply_chain": {},
        "expiry": tfvars.get("expiry", {}),
        "chargeback": tfvars.get("chargeback", {}),
        "stages": [_stage(tfvars, region, cfg, st, gitops) for st in tfvars.get("stages", [])],
    }


def _stage(
    tfvars: dict[str, Any],
    region: str,
    cfg: dict[str, Any],
    st: dict[str, Any],
    gitops: dict[str, Any],
) -> dict[str, Any]:
    base = cfg.get("gitops_path") or f"{gitops['path']}/{region}"
    approval = None
    if not st.get("no_human_approval", False):
        approval = st.get("approval") or _approval(cfg.get("approval") or tfvars["approval"])
    return {
        "name": st["name"],
        "production": st.get("production"),
        "approval": approval,
        "gitops": {
            "repository_url": gitops["repository_url"],
            "branch": gitops["branch"],
            "path": f"{base}/{st['name']}",
        },
        "name_prefix": st.get("name_prefix"),
        "bake_minutes": st.get("bake_minutes", 60),
        "auto_promote": st.get("auto_promote", False),
        "windows": st.get("windows", {}),
    }


def render_catalog(tfvars: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    """The region_catalog output Terraform computes from an environment's tfvars."""
    regions: dict[str, Any] = tfvars["regions"]
    zones = {
        zone: {
            "description": description,
            "regions": sorted(
                r for r, cfg in regions.items() if zone in [cfg["zone"], *cfg.get("also_in", [])]
            ),
        }
        for zone, description in sorted(tfvars["residency_zones"].items())
    }
    return {
        "schema_version": 1,
        "residency_zones": zones,
        "regions": [_entry(tfvars, r, regions[r], subscription_id) for r in sorted(regions)],
        "identity": {
            "owner_domains": list(tfvars.get("identity", {}).get("owner_domains", [])),
            "subaddress": dict(tfvars.get("identity", {}).get("subaddress", {})),
            "default_subaddress": tfvars.get("identity", {}).get("default_subaddress", "+"),
        },
    }
