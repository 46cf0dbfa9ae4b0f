"""Settings and the region catalog: bad configuration fails with the offending key named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shared.local.stack import LocalStack, StackPorts
from shared.settings import ConfigurationError, build_settings, load_catalog

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def catalog_doc(tmp_path: Path) -> dict[str, Any]:
    return LocalStack(tmp_path, REPO, ports=StackPorts()).catalog()


def env_for(catalog: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "CLEARANCE_REGION": "westeurope",
        "CLEARANCE_CATALOG_JSON": json.dumps(catalog),
        **extra,
    }


def test_valid_settings_expose_the_cell(catalog_doc: dict[str, Any]) -> None:
    settings = build_settings(env_for(catalog_doc))
    assert settings.cell.name == "westeurope"
    assert settings.catalog.zone_allows("SE", "swedencentral")
    assert not settings.catalog.zone_allows("SE", "westeurope")
    assert (
        settings.catalog.region_for_registry(settings.cell.registry.login_server) == settings.cell
    )


def test_missing_region_names_the_key(catalog_doc: dict[str, Any]) -> None:
    env = env_for(catalog_doc)
    del env["CLEARANCE_REGION"]
    with pytest.raises(ConfigurationError, match="CLEARANCE_REGION: missing"):
        build_settings(env)


def test_empty_string_counts_as_missing(catalog_doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="CLEARANCE_REGION: missing"):
        build_settings(env_for(catalog_doc, CLEARANCE_REGION=""))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CLEARANCE_REGION", "West Europe"),
        ("CLEARANCE_BUS_KIND", "kafka"),
        ("CLEARANCE_REGISTRY_ANONYMOUS", "perhaps"),
        ("CLEARANCE_STORAGE_API_VERSION", "latest"),
    ],
)
def test_malformed_value_names_the_key(catalog_doc: dict[str, Any], key: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=key):
        build_settings(env_for(catalog_doc, **{key: value}))


def test_exactly_one_catalog_source(catalog_doc: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(catalog_doc))
    with pytest.raises(
        ConfigurationError, match="CLEARANCE_CATALOG_JSON or CLEARANCE_CATALOG_FILE"
    ):
        build_settings(env_for(catalog_doc, CLEARANCE_CATALOG_FILE=str(path)))
    settings = build_settings(
        {"CLEARANCE_REGION": "westeurope", "CLEARANCE_CATALOG_FILE": str(path)}
    )
    assert settings.cell.name == "westeurope"


def test_unreadable_catalog_file_names_the_key(tmp_path: Path) -> None:
    env = {"CLEARANCE_REGION": "westeurope", "CLEARANCE_CATALOG_FILE": str(tmp_path / "no.json")}
    with pytest.raises(ConfigurationError, match="CLEARANCE_CATALOG_FILE: cannot read"):
        build_settings(env).catalog  # noqa: B018


def test_region_outside_the_catalog_is_refused(catalog_doc: dict[str, Any]) -> None:
    settings = build_settings(env_for(catalog_doc, CLEARANCE_REGION="northeurope"))
    with pytest.raises(ConfigurationError, match="CLEARANCE_REGION: 'northeurope' is not in"):
        settings.cell  # noqa: B018


def test_storage_queue_bus_needs_a_connection_string(catalog_doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="CLEARANCE_STORAGE_CONNECTION_STRING"):
        build_settings(env_for(catalog_doc, CLEARANCE_BUS_KIND="storage-queue"))


def test_catalog_rejects_an_unknown_residency_zone(catalog_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(catalog_doc)
    doc["regions"][0]["residency_zone"] = "MARS"
    with pytest.raises(ConfigurationError, match=r"unknown residency zone 'MARS'"):
        load_catalog(json.dumps(doc))


def test_catalog_rejects_a_duplicate_region(catalog_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(catalog_doc)
    twin = copy.deepcopy(doc["regions"][0])
    twin["registry"]["login_server"] = "other.example:5000"
    twin["storage"]["account_name"] = "othersa"
    doc["regions"].append(twin)
    with pytest.raises(ConfigurationError, match=r"duplicate region.*westeurope"):
        load_catalog(json.dumps(doc))


def test_catalog_rejects_a_registry_shared_by_two_regions(catalog_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(catalog_doc)
    doc["regions"][1]["registry"]["login_server"] = doc["regions"][0]["registry"]["login_server"]
    with pytest.raises(ConfigurationError, match="used by more than one region"):
        load_catalog(json.dumps(doc))


def test_catalog_rejects_a_zone_naming_an_unknown_region(catalog_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(catalog_doc)
    doc["residency_zones"]["EU"]["regions"].append("atlantis")
    with pytest.raises(ConfigurationError, match="unknown region"):
        load_catalog(json.dumps(doc))


def test_catalog_rejects_an_unreachable_quorum(catalog_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(catalog_doc)
    doc["regions"][0]["approval"]["default"]["min_approvals"] = 3
    with pytest.raises(ConfigurationError, match="can never be reached"):
        load_catalog(json.dumps(doc))


def test_catalog_rejects_unknown_fields_and_reads_yaml(catalog_doc: dict[str, Any]) -> None:
    import yaml

    assert load_catalog(yaml.safe_dump(catalog_doc)).region_names == ("westeurope", "swedencentral")
    doc = copy.deepcopy(catalog_doc)
    doc["regions"][0]["surprise"] = 1
    with pytest.raises(ConfigurationError, match="surprise"):
        load_catalog(json.dumps(doc))


def test_catalog_garbage_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="neither valid JSON nor YAML"):
        load_catalog("{: [")
