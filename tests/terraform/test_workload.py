"""The workload module's apply-level fixes (issue 19): AML datastores by identity, the AKS
version from AKS's supported list, the AzureML extension's TLS choice and router HA, the
control-plane ranges, and Flux credentials."""

from __future__ import annotations

import re

import pytest

from shared.domain.catalog import SUPPORTED_KUBERNETES_VERSIONS
from tests.terraform.environments import ENVIRONMENT_NAMES, tfvars
from tests.terraform.hcl import MODULES, Module, unwrap

SUPPORTED_AKS_VERSIONS = ["1.34", "1.35", "1.36"]


def test_the_app_supports_the_same_aks_versions_as_terraform() -> None:
    assert list(SUPPORTED_KUBERNETES_VERSIONS) == SUPPORTED_AKS_VERSIONS


@pytest.fixture(scope="module")
def workload() -> Module:
    return Module.load(MODULES / "workload")


def test_aml_datastores_use_the_workspace_identity(workload: Module) -> None:
    workspace = workload.resources["azurerm_machine_learning_workspace.this"]
    assert workspace["storage_account_access_type"] == "Identity"
    assert workload.resources["azurerm_storage_account.aml"]["shared_access_key_enabled"] is False
    roles = workload.resources["azurerm_role_assignment.workspace_storage"]
    assert "Storage Blob Data Contributor" in roles["for_each"]
    assert roles["scope"] == "${azurerm_storage_account.aml[0].id}"
    assert (
        "azurerm_machine_learning_workspace.this[0].identity[0].principal_id"
        in roles["principal_id"]
    )


def test_registry_admin_stays_off_and_the_workspace_pushes_with_its_identity(
    workload: Module,
) -> None:
    registry = workload.resources["azurerm_container_registry.this"]
    assert registry["admin_enabled"] is False
    assert "trust_policy_enabled" not in registry
    push = workload.resources["azurerm_role_assignment.workspace_registry"]
    assert (push["role_definition_name"], unwrap(push["scope"])) == ("AcrPush", "local.registry_id")


def _version_list(condition: str) -> list[str]:
    inner = condition.split("contains([", 1)[1].split("]", 1)[0]
    return [v.strip().strip('"') for v in inner.split(",")]


def test_kubernetes_version_is_validated_against_the_supported_list() -> None:
    for module in ("workload", "catalog"):
        (validation,) = Module.load(MODULES / module).variables["kubernetes_version"]["validation"]
        assert _version_list(validation["condition"]) == SUPPORTED_AKS_VERSIONS, module
    catalog_default = Module.load(MODULES / "catalog").variables["kubernetes_version"]["default"]
    assert catalog_default in SUPPORTED_AKS_VERSIONS
    environment_type = Module.load(MODULES / "environment").variables["environment"]["type"]
    assert f'kubernetes_version = optional(string, "{catalog_default}")' in environment_type


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_environment_runs_a_supported_kubernetes_version(environment: str) -> None:
    assert tfvars(environment).get("kubernetes_version", "1.35") in SUPPORTED_AKS_VERSIONS


def test_extension_tls_is_explicit(workload: Module) -> None:
    extension = workload.resources["azurerm_kubernetes_cluster_extension.azureml"]
    settings = extension["configuration_settings"]
    assert "local.inference_tls_settings" in settings
    assert "allowInsecureConnections" not in settings.split("local.inference_tls_settings")[0]
    tls = workload.locals["inference_tls_settings"]
    # Without a certificate: plain HTTP, only on a router that is not exposed outside the cluster.
    assert 'var.inference_tls == null ? {allowInsecureConnections = "true"}' in tls.replace(
        "\n", ""
    )
    assert re.search(r'inferenceRouterServiceType\s*=\s*"ClusterIP"', settings)
    # With one: HTTPS, the name and the certificate and key the extension requires.
    assert "sslCname = var.inference_tls.cname" in " ".join(tls.split())
    protected = extension["configuration_protected_settings"]
    assert "scoringFe.sslCert" in protected and "scoringFe.sslKey" in protected


def test_inference_router_ha_follows_the_model_pool(workload: Module) -> None:
    assert unwrap(workload.locals["inference_router_ha"]) == "var.model_node_count.min >= 3"


def test_aks_admits_azure_ml_and_keeps_local_accounts_only_for_it(workload: Module) -> None:
    aks = workload.resources["azurerm_kubernetes_cluster.this"]
    ranges = aks["api_server_access_profile"][0]["authorized_ip_ranges"]
    assert unwrap(ranges) == "local.api_server_authorized_ip_ranges"
    assert "azure_machine_learning" in workload.locals["api_server_authorized_ip_ranges"]
    (data,) = workload.files["main.tf"]["data"]  # data sources: read the block directly
    service_tags = data["azurerm_network_service_tags"]["azure_machine_learning"]
    assert service_tags["service"] == "AzureMachineLearning"
    assert unwrap(service_tags["location_filter"]) == "var.region"
    assert unwrap(aks["local_account_disabled"]) == "!local.create_compute"


def test_flux_reads_the_repository_with_workload_identity(workload: Module) -> None:
    config = workload.resources["azurerm_kubernetes_flux_configuration.models"]
    repository = config["git_repository"][0]
    assert repository["provider"] == "Azure"
    assert not {"https_key_base64", "ssh_private_key_base64"} & set(repository)
    extension = workload.resources["azurerm_kubernetes_cluster_extension.flux"]
    assert extension["configuration_settings"]["workloadIdentity.enable"] == "true"
    credential = workload.resources["azurerm_federated_identity_credential.flux"]
    assert credential["subject"] == "system:serviceaccount:flux-system:source-controller"


# --- Metric analysis (issue 16). ---


def test_region_has_an_azure_monitor_workspace_created_or_referenced() -> None:
    workload = Module.load(MODULES / "workload")
    workspace = workload.resources["azurerm_monitor_workspace.this"]
    assert unwrap(workspace["count"]) == "local.create_monitor ? 1 : 0"
    assert unwrap(workspace["name"]) == "var.names.monitor_workspace"
    assert workload.locals["create_monitor"] == "${var.existing.monitor_workspace_id == null}"
    assert "local.create_monitor" in workload.locals["create_any"]
    assert "monitor_workspace_id = optional(string)" in workload.variables["existing"]["type"]
    endpoint = workload.locals["prometheus_query_endpoint"]
    assert "azurerm_monitor_workspace.this[0].query_endpoint" in endpoint
    assert "data.azurerm_monitor_workspace.existing[0].query_endpoint" in endpoint
    outputs = workload.outputs
    assert unwrap(outputs["monitor_workspace_id"]["value"]) == "local.monitor_workspace_id"
    assert (
        unwrap(outputs["prometheus_query_endpoint"]["value"]) == "local.prometheus_query_endpoint"
    )


def test_created_cluster_sends_managed_prometheus_to_the_workspace() -> None:
    workload = Module.load(MODULES / "workload")
    assert "monitor_metrics" in workload.resources["azurerm_kubernetes_cluster.this"]
    stream = workload.locals["prometheus_stream"]
    assert stream == "Microsoft-PrometheusMetrics"
    dce = workload.resources["azurerm_monitor_data_collection_endpoint.prometheus"]
    rule = workload.resources["azurerm_monitor_data_collection_rule.prometheus"]
    association = workload.resources["azurerm_monitor_data_collection_rule_association.prometheus"]
    for resource in (dce, rule, association):
        assert unwrap(resource["count"]) == "local.create_aks ? 1 : 0"
    assert dce["kind"] == rule["kind"] == "Linux"
    assert (
        unwrap(rule["data_collection_endpoint_id"])
        == "azurerm_monitor_data_collection_endpoint.prometheus[0].id"
    )
    (account,) = rule["destinations"][0]["monitor_account"]
    assert unwrap(account["monitor_account_id"]) == "local.monitor_workspace_id"
    (flow,) = rule["data_flow"]
    assert flow["streams"] == ["${local.prometheus_stream}"]
    assert flow["destinations"] == [account["name"]]
    (forwarder,) = rule["data_sources"][0]["prometheus_forwarder"]
    assert forwarder["streams"] == ["${local.prometheus_stream}"]
    assert unwrap(association["target_resource_id"]) == "azurerm_kubernetes_cluster.this[0].id"
    assert (
        unwrap(association["data_collection_rule_id"])
        == "azurerm_monitor_data_collection_rule.prometheus[0].id"
    )
