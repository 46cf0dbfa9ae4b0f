"""The cell module: region-bound, least privilege, and consistent with the app's code."""

from __future__ import annotations

import copy
import json
import re

import pytest
from pydantic import SecretStr

from shared.domain.catalog import RegionEntry
from shared.queues import ALL_QUEUES, SERVICE_BUS_CONNECTION
from shared.settings import LOCAL_ONLY_SETTINGS, Settings
from tests.terraform.checks import (
    foreign_scopes,
    location_violations,
    missing_settings,
    model_mismatches,
    non_reference_secrets,
)
from tests.terraform.hcl import MODULES, REPO, Module, unwrap

# The region's own serving resources, and the environment's one Communication Services resource
# (mail is sent from one verified domain for the whole environment).
CELL_INPUTS = {
    "var.registry_id",
    "var.aks_cluster_id",
    "var.aml_workspace_id",
    "var.monitor_workspace_id",
    "var.mail.acs_resource_id",
}


@pytest.fixture(scope="module")
def cell() -> Module:
    return Module.load(MODULES / "cell")


@pytest.fixture(scope="module")
def app_settings(cell: Module) -> dict[str, str]:
    app = cell.resources["azurerm_function_app_flex_consumption.this"]
    assert unwrap(app["app_settings"]) == "local.app_settings"
    return cell.locals["app_settings"]


def _azure_settings() -> set[str]:
    """Every setting the code reads (Settings aliases) that Azure, not only locally, sets."""
    aliases = {str(f.validation_alias) for f in Settings.model_fields.values()}
    return aliases - LOCAL_ONLY_SETTINGS


def _secret_settings() -> set[str]:
    return {
        str(f.validation_alias)
        for f in Settings.model_fields.values()
        if SecretStr in (f.annotation, *getattr(f.annotation, "__args__", ()))
    } - LOCAL_ONLY_SETTINGS


def test_every_cell_resource_is_in_the_cells_region(cell: Module) -> None:
    assert location_violations(cell) == []
    assert len([b for b in cell.resources.values() if "location" in b]) >= 10


def test_a_resource_outside_the_region_is_caught(cell: Module) -> None:
    broken = Module(copy.deepcopy(cell.files))
    broken.files["service_bus.tf"]["resource"][0]["azurerm_servicebus_namespace"]["this"][
        "location"
    ] = "northeurope"
    assert location_violations(broken) == [
        "azurerm_servicebus_namespace.this: location = northeurope"
    ]


def test_role_assignments_scope_only_the_cells_own_resources(cell: Module) -> None:
    assert foreign_scopes(cell, CELL_INPUTS) == []


def test_a_cross_cell_role_assignment_is_caught(cell: Module) -> None:
    broken = Module(copy.deepcopy(cell.files))
    broken.files["roles.tf"]["locals"][0]["app_roles"]["acr_pull"]["scope"] = (
        "/subscriptions/0000/resourceGroups/rg-clr-prod-northeurope-serving"
    )
    broken.files["roles.tf"]["locals"][0]["app_roles"]["bus_sender"]["scope"] = (
        "${var.other_region_namespace_id}"
    )
    assert len(foreign_scopes(broken, CELL_INPUTS)) == 2


def test_function_identity_gets_the_least_privilege_roles(cell: Module) -> None:
    assert (
        unwrap(cell.locals["app_principal_id"])
        == "azurerm_user_assigned_identity.cell.principal_id"
    )
    roles = {entry["role"]: unwrap(entry["scope"]) for entry in cell.locals["app_roles"].values()}
    assert roles["AcrPull"] == "var.registry_id"
    assert roles["AzureML Data Scientist"] == "var.aml_workspace_id"
    for role in (
        "Storage Blob Data Owner",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
    ):
        assert roles[role] == "azurerm_storage_account.this.id"
    for role in ("Azure Service Bus Data Sender", "Azure Service Bus Data Receiver"):
        assert roles[role] == "azurerm_servicebus_namespace.this.id"
    writer = cell.resources["azurerm_role_assignment.app_aks_namespace_writer"]
    assert writer["role_definition_name"] == "Azure Kubernetes Service RBAC Writer"
    assert writer["scope"] == "${var.aks_cluster_id}/namespaces/${each.value}"
    assert not {"Owner", "Contributor"} & set(roles)


def test_queues_match_the_app(cell: Module) -> None:
    assert tuple(cell.locals["queues"]) == ALL_QUEUES
    queue = cell.resources["azurerm_servicebus_queue.this"]
    assert unwrap(queue["for_each"]) == "toset(local.queues)"
    assert queue["requires_duplicate_detection"] is True
    assert queue["dead_lettering_on_message_expiration"] is True


def test_tables_are_the_ones_the_app_uses(cell: Module) -> None:
    from shared.adapters.storage import intake_ledger as table_intake_ledger
    from shared.adapters.storage.lineage import writer as table_lineage

    assert set(cell.locals["tables"].values()) == {table_lineage.TABLE, table_intake_ledger.TABLE}
    # Through Resource Manager: azurerm_storage_table needs shared keys for its ACL call.
    table = cell.resources["azapi_resource.table"]
    assert unwrap(table["for_each"]) == "local.tables"
    assert table["type"].startswith("Microsoft.Storage/storageAccounts/tableServices/tables@")
    assert table["parent_id"] == "${azurerm_storage_account.this.id}/tableServices/default"
    assert not cell.of_type("azurerm_storage_table")


def test_delivery_limit_equals_host_json(cell: Module) -> None:
    host = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
    queue = cell.resources["azurerm_servicebus_queue.this"]
    assert unwrap(queue["max_delivery_count"]) == "local.max_delivery_count"
    assert cell.locals["max_delivery_count"] == host["extensions"]["queues"]["maxDequeueCount"]


def test_every_setting_the_code_reads_is_set(app_settings: dict[str, str]) -> None:
    required = _azure_settings()
    assert "CLEARANCE_REGION" in required  # the derivation itself works
    assert missing_settings(app_settings, required) == []


def test_a_missing_setting_is_caught(app_settings: dict[str, str]) -> None:
    broken = {k: v for k, v in app_settings.items() if k != "CLEARANCE_CATALOG_JSON"}
    assert missing_settings(broken, _azure_settings()) == ["CLEARANCE_CATALOG_JSON"]


def test_azure_specific_settings(app_settings: dict[str, str]) -> None:
    assert app_settings["CLEARANCE_BUS_KIND"] == "servicebus"
    assert unwrap(app_settings["CLEARANCE_REGION"]) == "var.region"
    assert unwrap(app_settings["CLEARANCE_CATALOG_JSON"]) == "var.catalog_json"
    namespace = app_settings[f"{SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace"]
    assert namespace == "${azurerm_servicebus_namespace.this.name}.servicebus.windows.net"
    assert not LOCAL_ONLY_SETTINGS & set(app_settings)


def test_secrets_are_key_vault_references(app_settings: dict[str, str]) -> None:
    secret_like = {k for k in app_settings if re.search(r"KEYS?$|SECRET|PASSWORD", k)}
    assert "CLEARANCE_LINK_SIGNING_KEYS" in secret_like
    assert non_reference_secrets(app_settings, secret_like | _secret_settings()) == []
    leaked = dict(app_settings, CLEARANCE_LINK_SIGNING_KEYS='{"k1": "inline"}')
    assert non_reference_secrets(leaked, secret_like) == ["CLEARANCE_LINK_SIGNING_KEYS"]


def test_function_app_is_flex_consumption_python_with_identity_and_easy_auth(
    cell: Module,
) -> None:
    app = cell.resources["azurerm_function_app_flex_consumption.this"]
    assert (app["runtime_name"], app["runtime_version"]) == ("python", "3.11")
    assert app["identity"][0]["type"] == "SystemAssigned, UserAssigned"
    assert app["identity"][0]["identity_ids"] == ["${azurerm_user_assigned_identity.cell.id}"]
    assert app["storage_authentication_type"] == "UserAssignedIdentity"
    assert (
        unwrap(app["storage_user_assigned_identity_id"]) == "azurerm_user_assigned_identity.cell.id"
    )
    assert cell.resources["azurerm_service_plan.this"]["sku_name"] == "FC1"
    auth = app["auth_settings_v2"][0]
    assert auth["auth_enabled"] is True
    assert auth["require_authentication"] is True
    assert (
        auth["active_directory_v2"][0]["client_secret_setting_name"] in cell.locals["app_settings"]
    )
    assert unwrap(auth["excluded_paths"]) == "var.anonymous_paths"


def test_storage_and_vault_are_locked_down(cell: Module) -> None:
    account = cell.resources["azurerm_storage_account.this"]
    assert account["shared_access_key_enabled"] is False
    assert account["allow_nested_items_to_be_public"] is False
    policy = cell.resources["azurerm_storage_container_immutability_policy.chain_heads"]
    assert "chain_heads" in policy["storage_container_resource_manager_id"]
    assert set(cell.locals["containers"]) == {"chain_heads", "deployment", "dead_letter"}
    vault = cell.resources["azurerm_key_vault.this"]
    assert vault["rbac_authorization_enabled"] is True
    assert vault["purge_protection_enabled"] is True


@pytest.mark.parametrize(
    ("subscription", "topic", "event_type", "function"),
    [
        ("image_pushed", "registry", "Microsoft.ContainerRegistry.ImagePushed", "acr_image_pushed"),
        (
            "model_registered",
            "aml",
            "Microsoft.MachineLearningServices.ModelRegistered",
            "aml_model_registered",
        ),
    ],
)
def test_event_grid_delivers_to_the_cells_functions(
    cell: Module, subscription: str, topic: str, event_type: str, function: str
) -> None:
    sub = cell.resources[f"azurerm_eventgrid_system_topic_event_subscription.{subscription}"]
    assert sub["system_topic"] == f"${{azurerm_eventgrid_system_topic.{topic}.name}}"
    assert sub["included_event_types"] == [event_type]
    endpoint = sub["azure_function_endpoint"][0]["function_id"]
    assert endpoint == f"${{azurerm_function_app_flex_consumption.this.id}}/functions/{function}"
    assert sub["retry_policy"]
    dead_letter = sub["storage_blob_dead_letter_destination"][0]
    assert dead_letter["storage_account_id"] == "${azurerm_storage_account.this.id}"
    source = cell.resources[f"azurerm_eventgrid_system_topic.{topic}"]["source_resource_id"]
    assert unwrap(source) in CELL_INPUTS


def test_image_pushed_is_filtered_to_the_cells_region(cell: Module) -> None:
    sub = cell.resources["azurerm_eventgrid_system_topic_event_subscription.image_pushed"]
    (string_in,) = sub["advanced_filter"][0]["string_in"]
    assert string_in == {"key": "data.location", "values": ["${var.region}"]}


def test_catalog_entry_output_is_a_region_entry(cell: Module) -> None:
    entry = cell.outputs["catalog_entry"]["value"]
    assert model_mismatches(entry, RegionEntry) == []
    assert model_mismatches({**entry, "region": "x"}, RegionEntry) == [
        "region: not a field of RegionEntry"
    ]


# --- Apply-level fixes (issue 19): what would validate but not work. ---


def test_host_storage_is_identity_based_without_a_connection_string(
    cell: Module, app_settings: dict[str, str]
) -> None:
    assert (
        unwrap(app_settings["AzureWebJobsStorage__accountName"])
        == "azurerm_storage_account.this.name"
    )
    assert app_settings["AzureWebJobsStorage__credential"] == "managedidentity"
    client_id = "azurerm_user_assigned_identity.cell.client_id"
    assert unwrap(app_settings["AzureWebJobsStorage__clientId"]) == client_id
    assert unwrap(app_settings["CLEARANCE_MANAGED_IDENTITY_CLIENT_ID"]) == client_id
    assert "AzureWebJobsStorage" not in app_settings
    assert not [v for v in app_settings.values() if "AccountKey=" in str(v)]
    app = cell.resources["azurerm_function_app_flex_consumption.this"]
    assert "storage_access_key" not in app
    # The provider writes an (empty-key) AzureWebJobsStorage connection string for
    # SystemAssignedIdentity, not for UserAssignedIdentity (azurerm #29693).
    assert app["storage_authentication_type"] == "UserAssignedIdentity"
    assert app_settings[f"{SERVICE_BUS_CONNECTION}__clientId"] == "${" + client_id + "}"
    assert (
        "ClientId=${azurerm_user_assigned_identity.cell.client_id}"
        in app_settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    )


def test_role_assignments_propagate_before_they_are_relied_on(cell: Module) -> None:
    app = cell.resources["azurerm_function_app_flex_consumption.this"]
    assert app["depends_on"] == ["${time_sleep.cell_roles_propagation}"]
    wait = cell.resources["time_sleep.cell_roles_propagation"]
    assert "azurerm_role_assignment.app" in wait["triggers"]
    secret = cell.resources["azurerm_key_vault_secret.link_signing_keys"]
    assert secret["depends_on"] == ["${time_sleep.deployer_secrets_officer_propagation}"]
    officer_wait = cell.resources["time_sleep.deployer_secrets_officer_propagation"]
    assert "deployer_secrets_officer" in str(officer_wait["triggers"])


def test_key_vault_references_resolve_with_the_apps_own_identity(cell: Module) -> None:
    reader = cell.resources["azurerm_role_assignment.key_vault_references"]
    assert reader["role_definition_name"] == "Key Vault Secrets User"
    assert unwrap(reader["principal_id"]) == "local.key_vault_reference_principal_id"
    assert (
        "azurerm_function_app_flex_consumption.this.identity[0].principal_id"
        in cell.locals["key_vault_reference_principal_id"]
    )


def test_worker_concurrency_comes_from_the_worker_variable(
    cell: Module, app_settings: dict[str, str]
) -> None:
    assert (
        unwrap(app_settings["FUNCTIONS_WORKER_PROCESS_COUNT"])
        == "tostring(var.worker.process_count)"
    )
    assert (
        unwrap(app_settings["PYTHON_THREADPOOL_THREAD_COUNT"])
        == "tostring(var.worker.thread_count)"
    )
    assert "optional(number, 1)" in cell.variables["worker"]["type"]


# --- Lineage checkpoint signing (issue 12). ---

CHECKPOINT_KEY_SCOPE = "${azurerm_key_vault.this.id}/keys/lineage-checkpoint"


def test_checkpoint_key_is_an_ec_p256_signing_key_in_the_cell_vault(cell: Module) -> None:
    key = cell.resources["azurerm_key_vault_key.lineage_checkpoint"]
    assert key["name"] == "lineage-checkpoint"
    assert unwrap(key["key_vault_id"]) == "azurerm_key_vault.this.id"
    assert (key["key_type"], key["curve"]) == ("EC", "P-256")
    assert sorted(key["key_opts"]) == ["sign", "verify"]
    (rotation,) = key["rotation_policy"]
    assert rotation["expire_after"] and rotation["automatic"][0]["time_before_expiry"]
    # The deployer creates it only after its Crypto Officer assignment has propagated.
    assert key["depends_on"] == ["${time_sleep.deployer_crypto_officer_propagation}"]
    officer = cell.resources["azurerm_role_assignment.deployer_crypto_officer"]
    assert officer["role_definition_name"] == "Key Vault Crypto Officer"
    assert unwrap(officer["scope"]) == "azurerm_key_vault.this.id"
    wait = cell.resources["time_sleep.deployer_crypto_officer_propagation"]
    assert "deployer_crypto_officer" in str(wait["triggers"])


def test_checkpoint_key_id_setting_is_the_versionless_key_id(app_settings: dict[str, str]) -> None:
    value = app_settings["CLEARANCE_CHECKPOINT_KEY_ID"]
    assert unwrap(value) == "azurerm_key_vault_key.lineage_checkpoint.versionless_id"


def _data_actions(cell: Module, name: str) -> list[str]:
    role = cell.resources[f"azurerm_role_definition.{name}"]
    assert role["assignable_scopes"] == ["${azurerm_resource_group.this.id}"]
    assert "${var.names.function_app}" in role["name"]  # role names are unique per tenant
    (permissions,) = role["permissions"]
    assert permissions.get("actions", []) == []
    assert not permissions.get("not_data_actions")
    return sorted(permissions["data_actions"])


def test_cell_identity_may_only_sign_with_and_read_the_checkpoint_key(cell: Module) -> None:
    assert _data_actions(cell, "checkpoint_signer") == [
        "Microsoft.KeyVault/vaults/keys/read",
        "Microsoft.KeyVault/vaults/keys/sign/action",
    ]
    signer = cell.resources["azurerm_role_assignment.app_checkpoint_signer"]
    assert signer["scope"] == CHECKPOINT_KEY_SCOPE
    assert unwrap(signer["principal_id"]) == "local.app_principal_id"
    assert "checkpoint_signer" in unwrap(signer["role_definition_id"])
    assert signer["depends_on"] == ["${azurerm_key_vault_key.lineage_checkpoint}"]
    # The app waits for it like for its other roles.
    wait = cell.resources["time_sleep.cell_roles_propagation"]
    assert "azurerm_role_assignment.app_checkpoint_signer.id" in wait["triggers"]


def test_auditors_are_optional_readers(cell: Module) -> None:
    assert cell.variables["auditors_group_object_id"]["default"] is None
    assert _data_actions(cell, "checkpoint_key_reader") == ["Microsoft.KeyVault/vaults/keys/read"]
    roles = {
        entry["role"]: unwrap(entry["scope"]) for entry in cell.locals["auditor_roles"].values()
    }
    assert roles == {
        "Storage Table Data Reader": "azurerm_storage_account.this.id",
        "Storage Blob Data Reader": "azurerm_storage_account.this.id",
    }
    storage = cell.resources["azurerm_role_assignment.auditors"]
    reader = cell.resources["azurerm_role_assignment.auditors_checkpoint_key_reader"]
    assert reader["scope"] == CHECKPOINT_KEY_SCOPE
    for assignment in (storage, reader):
        assert "var.auditors_group_object_id == null" in str(
            assignment.get("for_each", assignment.get("count"))
        )
        assert unwrap(assignment["principal_id"]) == "var.auditors_group_object_id"
        assert assignment["principal_type"] == "Group"


def test_chain_heads_container_has_version_level_immutability(cell: Module) -> None:
    container = cell.resources["azapi_resource.chain_heads_container"]
    assert container["type"].startswith(
        "Microsoft.Storage/storageAccounts/blobServices/containers@"
    )
    assert unwrap(container["name"]) == "local.containers.chain_heads"
    assert cell.locals["containers"]["chain_heads"] == "lineage-heads"
    assert container["parent_id"] == "${azurerm_storage_account.this.id}/blobServices/default"
    properties = container["body"]["properties"]
    assert properties["immutableStorageWithVersioning"] == {"enabled": True}
    assert properties["publicAccess"] == "None"
    # Version-level immutability needs blob versioning on the account.
    account = cell.resources["azurerm_storage_account.this"]
    assert account["blob_properties"][0]["versioning_enabled"] is True
    # Not also created by azurerm_storage_container (which cannot enable it, azurerm #21512).
    assert 'if key != "chain_heads"' in cell.resources["azurerm_storage_container.this"]["for_each"]
    policy = cell.resources["azurerm_storage_container_immutability_policy.chain_heads"]
    assert (
        unwrap(policy["storage_container_resource_manager_id"])
        == "azapi_resource.chain_heads_container.id"
    )
    assert unwrap(policy["immutability_period_in_days"]) == "var.lineage_immutability.days"


def test_environment_passes_the_auditors_group() -> None:
    env = Module.load(MODULES / "environment")
    call = env.module_calls["cell"]
    assert unwrap(call["auditors_group_object_id"]) == "local.env.auditors_group_object_id"
    assert "auditors_group_object_id = optional(string)" in env.variables["environment"]["type"]


def test_timers_do_not_run_on_startup_in_azure(app_settings: dict[str, str]) -> None:
    """Issue 20: the switch is local-only; the app ignores it in Azure, and Terraform never
    sets it (tests/unit/functions/test_timers.py checks the app side)."""
    assert "CLEARANCE_TIMERS_RUN_ON_STARTUP" not in app_settings


def test_metric_analysis_reads_prometheus_and_log_analytics(
    cell: Module, app_settings: dict[str, str]
) -> None:
    """Issue 16: read-only roles, the two app settings, and the same values as outputs."""
    roles = {entry["role"]: unwrap(entry["scope"]) for entry in cell.locals["app_roles"].values()}
    assert roles["Monitoring Data Reader"] == "var.monitor_workspace_id"
    assert roles["Log Analytics Reader"] == "azurerm_log_analytics_workspace.this.id"
    assert unwrap(app_settings["CLEARANCE_PROMETHEUS_QUERY_URL"]) == "var.prometheus_query_endpoint"
    workspace_guid = "azurerm_log_analytics_workspace.this.workspace_id"
    assert unwrap(app_settings["CLEARANCE_LOG_ANALYTICS_WORKSPACE_ID"]) == workspace_guid
    assert (
        unwrap(cell.outputs["prometheus_query_endpoint"]["value"])
        == "var.prometheus_query_endpoint"
    )
    assert unwrap(cell.outputs["log_analytics_workspace_id"]["value"]) == workspace_guid
    env = Module.load(MODULES / "environment").module_calls["cell"]
    for target in ("monitor_workspace_id", "prometheus_query_endpoint"):
        assert unwrap(env[target]) == f"module.workload[each.key].{target}"


# --- Mail with the cell identity (issue 20). ---


def test_cell_identity_may_send_mail_through_acs_only(cell: Module) -> None:
    role = cell.resources["azurerm_role_definition.mail_sender"]
    assert unwrap(role["count"]) == "var.mail.acs_resource_id == null ? 0 : 1"
    assert role["assignable_scopes"] == ["${local.acs_resource_group_id}"]
    assert "${var.names.function_app}" in role["name"]
    (permissions,) = role["permissions"]
    assert sorted(permissions["actions"]) == [
        "Microsoft.Communication/CommunicationServices/Read",
        "Microsoft.Communication/CommunicationServices/Write",
        "Microsoft.Communication/EmailServices/write",
    ]
    assert permissions.get("data_actions", []) == []
    assert (
        'join("/", slice(split("/", var.mail.acs_resource_id), 0, 5))'
        in cell.locals["acs_resource_group_id"]
    )
    assignment = cell.resources["azurerm_role_assignment.app_mail_sender"]
    assert unwrap(assignment["scope"]) == "var.mail.acs_resource_id"
    assert unwrap(assignment["principal_id"]) == "local.app_principal_id"
    assert "mail_sender[0]" in assignment["role_definition_id"]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_environments_name_their_acs_resource(environment: str) -> None:
    from tests.terraform.environments import tfvars

    resource_id = tfvars(environment)["mail"]["acs_resource_id"]
    assert re.fullmatch(
        r"/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/"
        r"Microsoft\.Communication/communicationServices/[^/]+",
        resource_id,
    )
