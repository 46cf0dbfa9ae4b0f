"""Model team namespaces (issue 20): the catalog's namespace mode, the namespaces Flux creates
where the kubernetes driver deploys (it never applies a cluster-scoped Namespace), and the
cell's RBAC Writer scope, all from one list: environment.model_teams."""

from __future__ import annotations

import re

import pytest

from shared.domain.deploy.k8s_names import dns_label
from shared.domain.deploy.manifests.objects import namespace
from tests.terraform.catalog_mirror import render_catalog
from tests.terraform.environments import SUBSCRIPTION, tfvars
from tests.terraform.hcl import MODULES, Module, object_literals, unwrap


@pytest.fixture(scope="module")
def catalog() -> Module:
    return Module.load(MODULES / "catalog")


def _team_regex(catalog: Module) -> str:
    (validation, _) = catalog.variables["model_teams"]["validation"]
    (pattern,) = re.findall(r'regex\("(.+?)", team\)', validation["condition"])
    return pattern.replace("\\\\", "\\")


def test_model_teams_default_to_none_and_select_team_mode(catalog: Module) -> None:
    assert catalog.variables["model_teams"]["default"] == []
    assert catalog.locals["namespace_mode"] == '${length(var.model_teams) > 0 ? "team" : "model"}'
    for branch in object_literals(catalog.locals["aks"]):
        assert unwrap(branch["namespace_mode"]) == "local.namespace_mode"
    assert catalog.locals["team_namespaces"] == '${[for team in var.model_teams : "team-${team}"]}'


@pytest.mark.parametrize("team", ["fraud", "risk-models", "t1", "a" * 58])
def test_terraform_and_the_app_name_a_teams_namespace_alike(catalog: Module, team: str) -> None:
    assert re.fullmatch(_team_regex(catalog), team)
    assert dns_label("team", team) == f"team-{team}"
    assert len(f"team-{team}") <= 63


@pytest.mark.parametrize("team", ["Fraud", "-x", "x-", "a_b", "a" * 59, ""])
def test_team_names_the_app_would_rewrite_are_refused(catalog: Module, team: str) -> None:
    assert not re.fullmatch(_team_regex(catalog), team)


def test_namespace_manifest_matches_the_apps(catalog: Module) -> None:
    (manifest,) = object_literals(catalog.locals["team_namespace_manifests"])
    ours = namespace("team-x")
    assert (manifest["apiVersion"], manifest["kind"]) == (ours["apiVersion"], ours["kind"])
    assert manifest["metadata"]["labels"] == ours["metadata"]["labels"]
    assert unwrap(manifest["metadata"]["name"]) == "namespace"
    output = catalog.outputs["team_namespaces_manifest"]["value"]
    assert "local.team_namespace_manifests" in output and "yamlencode" in output


def test_catalog_mirror_renders_team_mode() -> None:
    env = dict(tfvars("dev"), model_teams=["fraud"])
    (entry,) = render_catalog(env, SUBSCRIPTION)["regions"]
    assert entry["aks"]["namespace_mode"] == "team"
    (plain,) = render_catalog(tfvars("dev"), SUBSCRIPTION)["regions"]
    assert plain["aks"]["namespace_mode"] == "model"


def test_environment_wires_teams_to_catalog_cell_and_workload() -> None:
    env = Module.load(MODULES / "environment")
    assert "model_teams = optional(list(string), [])" in env.variables["environment"]["type"]
    assert "model_namespaces" not in env.variables["environment"]["type"]
    calls = env.module_calls
    assert unwrap(calls["catalog"]["model_teams"]) == "local.env.model_teams"
    assert unwrap(calls["cell"]["model_namespaces"]) == "module.catalog.team_namespaces"
    source = unwrap(calls["workload"]["team_namespaces"])
    assert source.startswith('module.catalog.entries[each.key].deployer == "kubernetes" ?')
    assert source.endswith("module.catalog.team_namespaces_source : null")


def test_cells_write_only_to_the_team_namespaces() -> None:
    cell = Module.load(MODULES / "cell")
    assert cell.variables["model_namespaces"]["default"] == []
    writer = cell.resources["azurerm_role_assignment.app_aks_namespace_writer"]
    assert unwrap(writer["for_each"]) == "toset(var.model_namespaces)"
    assert writer["scope"] == "${var.aks_cluster_id}/namespaces/${each.value}"


def test_flux_creates_the_namespaces_and_never_prunes_them() -> None:
    workload = Module.load(MODULES / "workload")
    assert workload.locals["flux_installed"] == "${var.flux != null || var.team_namespaces != null}"
    for address in (
        "azurerm_user_assigned_identity.flux",
        "azurerm_federated_identity_credential.flux",
        "azurerm_kubernetes_cluster_extension.flux",
    ):
        assert unwrap(workload.resources[address]["count"]) == "local.flux_installed ? 1 : 0"
    config = workload.resources["azurerm_kubernetes_flux_configuration.namespaces"]
    assert unwrap(config["count"]) == "var.team_namespaces != null ? 1 : 0"
    assert config["scope"] == "cluster"
    assert config["git_repository"][0]["provider"] == "Azure"
    (kustomization,) = config["kustomizations"]
    assert unwrap(kustomization["path"]) == "var.team_namespaces.path"
    # Deleting a namespace deletes every model in it: never on a file's removal.
    assert kustomization["garbage_collection_enabled"] is False
    # The models configuration of gitops regions is unchanged (it reconciles its own Namespaces).
    assert unwrap(workload.resources["azurerm_kubernetes_flux_configuration.models"]["count"]) == (
        "var.flux != null ? 1 : 0"
    )


def test_kubernetes_regions_without_teams_are_flagged() -> None:
    env = Module.load(MODULES / "environment")
    checks = {
        n: b
        for doc in env.files.values()
        for block in doc.get("check", [])
        for n, b in block.items()
    }
    condition = checks["kubernetes_regions_have_model_teams"]["assert"][0]["condition"]
    assert "length(local.env.model_teams) > 0" in condition
    assert 'entry.deployer != "kubernetes"' in condition
