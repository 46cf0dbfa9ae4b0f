"""An API client for the region's AKS cluster, authenticated as the Function's managed identity.

The cluster has no local accounts (Entra ID + Azure RBAC). The identity holds "Azure
Kubernetes Service Cluster User Role", which lets it read the cluster's user kubeconfig
(server and CA) from ARM; requests then carry an Entra token for the AKS server application,
refreshed before it expires.
"""

from __future__ import annotations

import base64
import tempfile
from typing import Any, cast

import yaml

from shared.domain.catalog import AksTarget
from shared.domain.errors import ConfigurationError, TransientError

AKS_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"  # the AKS Entra server app
ARM_SCOPE = "https://management.azure.com/.default"
ARM_API_VERSION = "2024-05-01"


def cluster_endpoint(aks: AksTarget, credential: Any) -> tuple[str, bytes]:
    """(API server URL, CA bundle) from ARM's listClusterUserCredential."""
    import requests

    if not aks.subscription_id:
        raise ConfigurationError(
            f"region catalog: aks.subscription_id of {aks.cluster_name} is needed to reach it"
        )
    url = (
        f"https://management.azure.com/subscriptions/{aks.subscription_id}/resourceGroups/"
        f"{aks.resource_group}/providers/Microsoft.ContainerService/managedClusters/"
        f"{aks.cluster_name}/listClusterUserCredential?api-version={ARM_API_VERSION}"
    )
    token = credential.get_token(ARM_SCOPE).token
    try:
        response = requests.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except requests.RequestException as exc:
        raise TransientError(f"ARM unreachable for {aks.cluster_name}: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"ARM answered {response.status_code} for {aks.cluster_name}")
    if response.status_code != 200:
        raise ConfigurationError(
            f"cannot read the user kubeconfig of {aks.cluster_name}: {response.status_code}"
        )
    kubeconfig = yaml.safe_load(base64.b64decode(response.json()["kubeconfigs"][0]["value"]))
    cluster = kubeconfig["clusters"][0]["cluster"]
    server = aks.api_server_url or cluster["server"]
    return server, base64.b64decode(cluster["certificate-authority-data"])


def aks_api_client(aks: AksTarget, credential: Any) -> Any:
    from kubernetes import client

    server, ca = cluster_endpoint(aks, credential)
    with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as ca_file:
        ca_file.write(ca)
    config = client.Configuration()
    config.host = server
    config.ssl_ca_cert = ca_file.name
    config.verify_ssl = True
    config.api_key_prefix["authorization"] = "Bearer"

    def refresh(configuration: Any) -> None:
        # azure-identity caches the token and renews it before it expires
        configuration.api_key["authorization"] = credential.get_token(AKS_SCOPE).token

    cast(Any, config).refresh_api_key_hook = refresh
    refresh(config)
    return client.ApiClient(config)
