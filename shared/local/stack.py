"""The two-region local stack: up, down, status.

Each region is a cell of its own: a TLS docker-registry standing in for its ACR, its own
storage account in one Azurite process, its own local Functions host. Both share an SMTP
server and a Teams webhook receiver. Everything lives under one root (``.local/`` by
default): data, logs, PID files, the generated catalog and each host's local.settings.json.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.adapters.signing.es256 import PRIVATE_FILE, PUBLIC_FILE, ensure_key_pair
from shared.local.pki import ensure_pki
from shared.local.processes import ProcessTable
from shared.local.signing import SigningKey, ensure_signing_key

REGIONS = ("westeurope", "swedencentral")
ZONES = {"EU": ["westeurope", "swedencentral"], "SE": ["swedencentral"]}
HOME_ZONE = {"westeurope": "EU", "swedencentral": "SE"}
STORAGE_API_VERSION = "2025-11-05"
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
# Locally a minute of bake time or analysis interval lasts a second.
LOCAL_TIME_SCALE = 1 / 60
# A staged local stack: how long a version bakes in ``staging`` before it promotes itself.
LOCAL_STAGING_BAKE_MINUTES = 5
ANALYSIS_PARTS = ("standin", "prometheus")  # Debian's prometheus scraping the model stand-in
SAMPLE_APPROVERS = ("approver.one@contoso.example", "approver.two@contoso.example")
# The local directory (stands in for Entra ID): sample people with stable object ids, and one
# approver group. Each person is also a registry user, so pushes carry who pushed.
LOCAL_TENANT = "00000000-0000-0000-0000-00000000c1ea"
SAMPLE_OWNER = "owner@contoso.example"
SAMPLE_PEOPLE = {
    "approver.one@contoso.example": "00000000-0000-0000-0001-000000000001",
    "approver.two@contoso.example": "00000000-0000-0000-0001-000000000002",
    "approver.three@contoso.example": "00000000-0000-0000-0001-000000000003",
    "owner@contoso.example": "00000000-0000-0000-0001-0000000000ff",
}
APPROVER_GROUP = "00000000-0000-0000-0002-00000000a001"  # approver.one, .two, .three
APP_REGISTRY_USER = "clearance"  # the cell itself reads the registry as this user
SIGNING_KEY_IDS = ("local-ci", "local-retired")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StackPorts:
    blob: int = 10000
    queue: int = 10001
    table: int = 10002
    smtp: int = 2525
    teams: int = 7080
    devops: int = 7090
    registry: dict[str, int] = field(
        default_factory=lambda: {"westeurope": 5001, "swedencentral": 5002}
    )
    host: dict[str, int] = field(
        default_factory=lambda: {"westeurope": 7071, "swedencentral": 7072}
    )
    prometheus: int = 9090
    standin: int = 9101

    @classmethod
    def free(cls) -> StackPorts:
        return cls(
            blob=free_port(),
            queue=free_port(),
            table=free_port(),
            smtp=free_port(),
            teams=free_port(),
            devops=free_port(),
            registry={r: free_port() for r in REGIONS},
            host={r: free_port() for r in REGIONS},
            prometheus=free_port(),
            standin=free_port(),
        )


def _new_link_keys() -> dict[str, str]:
    return {"k1": secrets.token_hex(32)}


def _new_registry_passwords() -> dict[str, str]:
    return {user: secrets.token_hex(16) for user in (APP_REGISTRY_USER, *SAMPLE_PEOPLE)}


def account_name(region: str) -> str:
    return f"clr{region}"[:24]


@dataclass
class StackState:
    ports: StackPorts
    account_keys: dict[str, str]
    link_keys: dict[str, str] = field(default_factory=lambda: _new_link_keys())
    registry_passwords: dict[str, str] = field(default_factory=lambda: _new_registry_passwords())
    # Each region walks ``staging`` then ``prod`` (``make run``); False: one implicit stage.
    stages: bool = False

    @classmethod
    def new(cls, ports: StackPorts) -> StackState:
        keys = {r: base64.b64encode(secrets.token_bytes(64)).decode() for r in REGIONS}
        return cls(ports=ports, account_keys=keys)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> StackState:
        doc = json.loads(text)
        return cls(
            ports=StackPorts(**doc["ports"]),
            account_keys=doc["account_keys"],
            link_keys=doc.get("link_keys") or _new_link_keys(),
            registry_passwords=doc.get("registry_passwords") or _new_registry_passwords(),
            stages=bool(doc.get("stages", False)),
        )


class LocalStack:
    def __init__(
        self,
        root: Path,
        repo: Path,
        ports: StackPorts | None = None,
        *,
        registry_notifications: bool = True,
        host_workers: int = 1,
        stages: bool | None = None,
    ) -> None:
        """``registry_notifications=False`` leaves Event Grid delivery to the caller (tests and
        benchmarks that deliver events themselves); ``host_workers`` is each host's
        ``FUNCTIONS_WORKER_PROCESS_COUNT``. ``stages``: each region gets a ``staging`` and a
        ``prod`` stage (see :meth:`stage_entries`); None keeps what the stack was set up with
        (a new stack: one implicit stage, as the integration tests' session stack)."""
        self.registry_notifications = registry_notifications
        self.host_workers = host_workers
        self.root = root.resolve()
        self.repo = repo.resolve()
        self.processes = ProcessTable(self.root)
        state_file = self.root / "stack.json"
        if state_file.exists() and ports is None:
            self.state = StackState.from_json(state_file.read_text())
        else:
            self.state = StackState.new(ports or StackPorts())
        if stages is not None:
            self.state.stages = stages

    # -- derived configuration ---------------------------------------------------------------
    @property
    def ports(self) -> StackPorts:
        return self.state.ports

    @property
    def ca_file(self) -> Path:
        return self.root / "pki" / "ca.pem"

    @property
    def catalog_file(self) -> Path:
        return self.root / "catalog.json"

    @property
    def maildir(self) -> Path:
        return self.root / "mail"

    @property
    def teams_store(self) -> Path:
        return self.root / "teams"

    @property
    def devops_store(self) -> Path:
        """What the local Azure DevOps stand-in received (check callbacks)."""
        return self.root / "devops"

    @property
    def devops_org_url(self) -> str:
        """The local Azure DevOps organisation: the only PlanUrl the local cells accept."""
        return f"http://127.0.0.1:{self.ports.devops}/local-org/"

    def devops_check_secret(self) -> str:
        """The check's shared secret, derived from the stack's link key (stable per stack)."""
        key = next(iter(self.state.link_keys.values())).encode()
        return hmac.new(key, b"ado-check-secret", hashlib.sha256).hexdigest()

    @property
    def standin_control(self) -> Path:
        """The switch of the model stand-in (``model_standin.write_control``)."""
        return self.root / "standin.json"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    def prometheus_config(self) -> str:
        return json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "model-standin",
                        "static_configs": [{"targets": [f"127.0.0.1:{self.ports.standin}"]}],
                    },
                    {
                        # Clearance's own metrics: every host worker process announces its
                        # endpoint in <telemetry>/<region>/targets/<pid>.json (file_sd)
                        "job_name": "clearance",
                        "file_sd_configs": [
                            {
                                "files": [
                                    str(self.telemetry_dir(r) / "targets" / "*.json")
                                    for r in REGIONS
                                ],
                                "refresh_interval": "2s",
                            }
                        ],
                    },
                ],
            },
            indent=2,
        )  # JSON is YAML

    def telemetry_dir(self, region: str) -> Path:
        """The region's hosts' spans (JSONL, read by ``clearance trace``) and metric targets."""
        return self.root / "telemetry" / region

    def settings_file(self, region: str) -> Path:
        return self.root / region / "local.settings.json"

    def login_server(self, region: str) -> str:
        return f"127.0.0.1:{self.ports.registry[region]}"

    @property
    def aml_registrants_dir(self) -> Path:
        return self.root / "aml-registrants"

    def record_registrant(self, region: str, name: str, version: str, person: str) -> None:
        """What Azure ML records when ``person`` registers ``name:version`` in the region's
        workspace (``creation_context.created_by``); the intake reads it back."""
        path = self.aml_registrants_dir / f"mlw-{region}" / name / f"{version}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"created_by": person, "object_id": SAMPLE_PEOPLE.get(person)}
        path.write_text(json.dumps(doc))

    @property
    def directory_file(self) -> Path:
        return self.root / "directory.json"

    def registry_credentials(self, region: str, person: str | None = None) -> tuple[str, str]:
        """``(username, password)`` of ``person`` (a sample person's address) on ``region``'s
        registry; without a person, the cell's own reader. Docker, skopeo, oras: basic auth."""
        user = person or APP_REGISTRY_USER
        if region not in self.ports.registry:
            raise KeyError(region)
        try:
            return user, self.state.registry_passwords[user]
        except KeyError:
            raise KeyError(f"{user} is not a registry user of the local stack") from None

    def registry_client(self, region: str, person: str | None = None) -> Any:
        """An ``azure-containerregistry`` client of ``region``'s registry, signed in as
        ``person`` (default: the sample owner, so a push records who pushed)."""
        from azure.containerregistry import ContainerRegistryClient

        from shared.adapters.registry.basic_auth import BasicAuthPolicy

        user, password = self.registry_credentials(region, person or SAMPLE_OWNER)
        return ContainerRegistryClient(
            f"https://{self.login_server(region)}",
            None,
            audience="https://containerregistry.azure.net",
            connection_verify=str(self.ca_file),
            per_call_policies=[BasicAuthPolicy(user, password)],
        )

    def directory(self) -> dict[str, Any]:
        users = [
            {"object_id": oid, "mail": mail, "display_name": mail.split("@")[0]}
            for mail, oid in SAMPLE_PEOPLE.items()
        ]
        members = [SAMPLE_PEOPLE[m] for m in SAMPLE_PEOPLE if m.startswith("approver.")]
        group = {"display_name": "Model approvers", "members": members}
        return {"tenant_id": LOCAL_TENANT, "users": users, "groups": {APPROVER_GROUP: group}}

    def htpasswd(self) -> str:
        import bcrypt  # local extra: only the local stack writes htpasswd files

        lines = []
        for user, password in sorted(self.state.registry_passwords.items()):
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            lines.append(f"{user}:{hashed}")
        return "\n".join(lines) + "\n"

    def host_url(self, region: str) -> str:
        return f"http://127.0.0.1:{self.ports.host[region]}"

    def gitops_repo(self, region: str) -> Path:
        return self.root / region / "gitops.git"

    def connection_string(self, region: str) -> str:
        name, key = account_name(region), self.state.account_keys[region]
        p = self.ports
        return (
            f"DefaultEndpointsProtocol=http;AccountName={name};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{p.blob}/{name};"
            f"QueueEndpoint=http://127.0.0.1:{p.queue}/{name};"
            f"TableEndpoint=http://127.0.0.1:{p.table}/{name};"
        )

    def catalog(self) -> dict[str, Any]:
        regions = []
        for region in REGIONS:
            name = account_name(region)
            regions.append(
                {
                    "name": region,
                    "residency_zone": HOME_ZONE[region],
                    "function_app_url": self.host_url(region),
                    "registry": {
                        "login_server": self.login_server(region),
                        "resource_id": f"/subscriptions/{LOCAL_SUBSCRIPTION}"
                        f"/resourceGroups/clearance-local-{region}/providers"
                        f"/Microsoft.ContainerRegistry/registries/clr{region}",
                    },
                    "storage": {
                        "account_name": name,
                        "blob_endpoint": f"http://127.0.0.1:{self.ports.blob}/{name}",
                        "queue_endpoint": f"http://127.0.0.1:{self.ports.queue}/{name}",
                        "table_endpoint": f"http://127.0.0.1:{self.ports.table}/{name}",
                    },
                    "service_bus": {"namespace": f"local-{region}.servicebus.invalid"},
                    "approval": self.region_approval(),
                    "aml": {
                        "subscription_id": LOCAL_SUBSCRIPTION,
                        "resource_group": f"clearance-local-{region}",
                        "workspace": f"mlw-{region}",
                        "compute": f"aks-{region}",
                    },
                    "analysis": {"provider": "prometheus", "endpoint": self.prometheus_url},
                    "supply_chain": self.supply_chain_policy(),
                    "deployer": "gitops",
                    "gitops": {
                        "repository_url": str(self.gitops_repo(region)),
                        "branch": "main",
                        "path": f"clusters/{region}/models",
                    },
                    **({"stages": self.stage_entries(region)} if self.state.stages else {}),
                }
            )
        zones = {z: {"description": f"local {z}", "regions": r} for z, r in ZONES.items()}
        identity = {"subaddress": {"contoso.example": "+"}, "owner_domains": ["contoso.example"]}
        return {
            "schema_version": 1,
            "residency_zones": zones,
            "regions": regions,
            "identity": identity,
        }

    def stage_entries(self, region: str) -> list[dict[str, Any]]:
        """``staging`` (no human approval, own GitOps path and ``stg`` namespaces, bakes
        ``LOCAL_STAGING_BAKE_MINUTES`` — seconds locally — then promotes itself) and ``prod``
        (the region's approvals, its own GitOps path): the shape of the dev environment's
        ``stages`` (terraform/environments/dev), on the same code path."""
        return [
            {
                "name": "staging",
                "approval": None,
                "name_prefix": "stg",
                "gitops": self.stage_gitops(region, "staging"),
                "bake_minutes": LOCAL_STAGING_BAKE_MINUTES,
                "auto_promote": True,
            },
            {
                "name": "prod",
                "approval": self.region_approval(),
                "gitops": self.stage_gitops(region, "prod"),
            },
        ]

    def region_approval(self) -> dict[str, Any]:
        return {
            "default": {"approvers": list(SAMPLE_APPROVERS), "min_approvals": 2},
            # critical models: group-only, as in prod (members from the directory)
            "by_risk_tier": {"critical": {"approver_groups": [APPROVER_GROUP], "min_approvals": 2}},
        }

    def stage_gitops(self, region: str, stage: str) -> dict[str, str]:
        return {
            "repository_url": str(self.gitops_repo(region)),
            "branch": "main",
            "path": f"clusters/{region}/models/{stage}",
        }

    def signing_keys(self) -> dict[str, SigningKey]:
        """The local signer's cosign key and a retired (revoked) one, outside registry data."""
        return {k: ensure_signing_key(self.root / "signing", k) for k in SIGNING_KEY_IDS}

    def supply_chain_policy(self) -> dict[str, Any]:
        """Local policy: high shows evidence (flagged, never blocking), critical requires a
        signature by ``local-ci``; ``local-retired`` is trusted in name but revoked."""
        keys = [
            {"key_id": k.key_id, "public_key_pem": k.public_pem}
            for k in self.signing_keys().values()
        ]
        shown = {"keys": keys, "revoked": ["local-retired"], "on_failure": "flag"}
        required = {**shown, "required": True, "on_failure": "reject", "grace_seconds": 5}
        return {"by_risk_tier": {"high": shown, "critical": required}}

    def local_settings(self, region: str) -> dict[str, Any]:
        sample = json.loads((self.repo / "local.settings.sample.json").read_text())
        values = dict(sample["Values"])
        values.update(
            {
                "AzureWebJobsStorage": self.connection_string(region),
                "CLEARANCE_REGION": region,
                "CLEARANCE_CATALOG_FILE": str(self.catalog_file),
                "CLEARANCE_CATALOG_JSON": "",
                "CLEARANCE_BUS_KIND": "storage-queue",
                "CLEARANCE_STORAGE_CONNECTION_STRING": self.connection_string(region),
                "CLEARANCE_STORAGE_API_VERSION": STORAGE_API_VERSION,
                "CLEARANCE_REGISTRY_CA_FILE": str(self.ca_file),
                "CLEARANCE_REGISTRY_ANONYMOUS": "true",
                "CLEARANCE_MAIL_KIND": "smtp",
                "CLEARANCE_SMTP_HOST": "127.0.0.1",
                "CLEARANCE_SMTP_PORT": str(self.ports.smtp),
                "CLEARANCE_LINK_SIGNING_KEYS": json.dumps(self.state.link_keys),
                "CLEARANCE_TEAMS_WEBHOOK_URL": f"http://127.0.0.1:{self.ports.teams}/webhook/{region}",
                "CLEARANCE_ADO_CHECK_SECRET": self.devops_check_secret(),
                "CLEARANCE_ADO_ORGANIZATIONS": self.devops_org_url,
                "CLEARANCE_DEPLOY_TIME_SCALE": str(LOCAL_TIME_SCALE),
                "CLEARANCE_REGISTRY_USERNAME": APP_REGISTRY_USER,
                "CLEARANCE_REGISTRY_PASSWORD": self.state.registry_passwords[APP_REGISTRY_USER],
                "CLEARANCE_DIRECTORY_KIND": "file",
                "CLEARANCE_DIRECTORY_FILE": str(self.directory_file),
                "CLEARANCE_TENANT_ID": LOCAL_TENANT,
                "CLEARANCE_LOCAL_EASY_AUTH": "true",
                "CLEARANCE_AML_REGISTRANTS_DIR": str(self.aml_registrants_dir),
                # tests read each rejection mail; the digest is tested on its own
                "CLEARANCE_MAIL_DIGEST_WINDOW_SECONDS": "0",
                "CLEARANCE_TELEMETRY_DIR": str(self.telemetry_dir(region)),
                "CLEARANCE_CHECKPOINT_KEY_FILE": str(
                    self.checkpoint_key_dir(region) / PRIVATE_FILE
                ),
            }
        )
        return {"IsEncrypted": False, "Values": values}

    def checkpoint_key_dir(self, region: str) -> Path:
        """The cell's checkpoint key pair: outside the Azurite data, as Key Vault is in Azure."""
        return self.root / "keys" / region

    def checkpoint_public_key(self, region: str) -> Path:
        return self.checkpoint_key_dir(region) / PUBLIC_FILE

    def registry_config(self, region: str) -> str:
        data = self.root / region / "registry-data"
        pki = self.root / "pki"
        return json.dumps(
            {
                "version": "0.1",
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(data)},
                    "delete": {"enabled": True},
                },
                "auth": {
                    "htpasswd": {
                        "realm": f"clearance-local-{region}",
                        "path": str(self.root / region / "htpasswd"),
                    }
                },
                "http": {
                    "addr": f"127.0.0.1:{self.ports.registry[region]}",
                    "relativeurls": True,
                    "secret": secrets.token_hex(16),
                    "tls": {
                        "certificate": str(pki / "server.pem"),
                        "key": str(pki / "server-key.pem"),
                    },
                },
                "notifications": {
                    "endpoints": [
                        {
                            "name": f"clearance-{region}",
                            "disabled": not self.registry_notifications,
                            "url": f"{self.host_url(region)}/runtime/registry/notifications",
                            "timeout": "5s",
                            "threshold": 5,
                            "backoff": "1s",
                            "ignoredmediatypes": ["application/octet-stream"],
                        }
                    ]
                },
            },
            indent=2,
        )  # JSON is YAML: docker-registry reads it as its YAML config

    # -- lifecycle -------------------------------------------------------------------------
    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "stack.json").write_text(self.state.to_json())
        (self.root / "stack.json").chmod(0o600)
        ensure_pki(self.root / "pki")
        self.signing_keys()
        self.catalog_file.write_text(json.dumps(self.catalog(), indent=2))
        self.directory_file.write_text(json.dumps(self.directory(), indent=2))
        for region in REGIONS:
            (self.root / region).mkdir(parents=True, exist_ok=True)
            ensure_key_pair(self.checkpoint_key_dir(region))
            settings = self.settings_file(region)
            settings.write_text(json.dumps(self.local_settings(region), indent=2))
            settings.chmod(0o600)
            (self.root / region / "registry.yml").write_text(self.registry_config(region))
            (self.root / region / "htpasswd").write_text(self.htpasswd())
            (self.root / region / "htpasswd").chmod(0o600)
            repo = self.gitops_repo(region)
            if not repo.exists():  # the region's GitOps repository (Flux reconciles it in Azure)
                subprocess.run(
                    ["git", "init", "--bare", "-q", "-b", "main", str(repo)],
                    check=True,
                    capture_output=True,
                )
        for region in REGIONS:
            targets = self.telemetry_dir(region) / "targets"
            targets.mkdir(parents=True, exist_ok=True)
            for stale in targets.glob("*.json"):  # processes of an earlier run
                if not _pid_alive(stale.stem):
                    stale.unlink(missing_ok=True)
        (self.root / "prometheus.yml").write_text(self.prometheus_config())
        if not self.standin_control.exists():
            self.standin_control.write_text(json.dumps({"revisions": {}}))

    def up(self, timeout: float = 90.0, *, hosts: bool = True) -> None:
        self.write_config()
        for name in self.infra_parts():
            self.start_part(name)
        self._wait(self._infra_checks(), timeout)
        if hosts:
            self.start_hosts(timeout)

    def start_hosts(self, timeout: float = 90.0) -> None:
        """Start both regions' hosts (idempotent) and wait until each answers."""
        for region in REGIONS:
            self.start_host(region)
        self._wait(self._host_checks(), timeout)

    def stop_hosts(self) -> None:
        for region in REGIONS:
            self.processes.stop(f"host-{region}")

    def infra_parts(self) -> list[str]:
        return [
            "azurite",
            *(f"registry-{r}" for r in REGIONS),
            "smtp",
            "teams",
            "devops",
            *ANALYSIS_PARTS,
        ]

    def start_part(self, name: str, timeout: float | None = None) -> int:
        """Start one part (idempotent); with ``timeout``, wait until it answers."""
        if name.startswith("host-"):
            pid = self.start_host(name.removeprefix("host-"))
        else:
            argv, env = self._command(name)
            pid = self.processes.start(name, argv, env=env, cwd=self.repo)
        if timeout is not None:
            checks = {**self._infra_checks(), **self._host_checks()}
            self._wait({name: checks[name]}, timeout)
        return pid

    def stop_part(self, name: str) -> bool:
        return self.processes.stop(name)

    def _command(self, name: str) -> tuple[list[str], dict[str, str]]:
        p, py = self.ports, sys.executable
        if name == "azurite":
            azurite = self.repo / "node_modules" / ".bin" / "azurite"
            if not azurite.exists():
                raise RuntimeError("Azurite is not installed: run scripts/bootstrap (npm ci)")
            accounts = ";".join(f"{account_name(r)}:{self.state.account_keys[r]}" for r in REGIONS)
            argv = [
                str(azurite),
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(p.blob),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(p.queue),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(p.table),
                "--location",
                str(self.root / "azurite"),
            ]
            return argv, {"AZURITE_ACCOUNTS": accounts}
        if name.startswith("registry-"):
            registry = shutil.which("docker-registry") or "/usr/bin/docker-registry"
            region = name.removeprefix("registry-")
            return [registry, "serve", str(self.root / region / "registry.yml")], {}
        if name == "smtp":
            return [
                py,
                "-m",
                "shared.local.smtp_sink",
                "--port",
                str(p.smtp),
                "--maildir",
                str(self.maildir),
            ], {}
        if name == "teams":
            return [
                py,
                "-m",
                "shared.local.teams_sink",
                "--port",
                str(p.teams),
                "--store",
                str(self.teams_store),
            ], {}
        if name == "devops":
            return [
                py,
                "-m",
                "shared.local.devops_sink",
                "--port",
                str(p.devops),
                "--store",
                str(self.devops_store),
            ], {}
        if name == "standin":
            return [
                py,
                "-m",
                "shared.local.model_standin",
                "--port",
                str(p.standin),
                "--control",
                str(self.standin_control),
            ], {}
        if name == "prometheus":
            prometheus = shutil.which("prometheus") or "/usr/bin/prometheus"
            return [
                prometheus,
                f"--web.listen-address=127.0.0.1:{p.prometheus}",
                f"--storage.tsdb.path={self.root / 'prometheus-data'}",
                "--log.level=warn",
                f"--config.file={self.root / 'prometheus.yml'}",
            ], {}
        raise KeyError(name)

    def start_host(self, region: str) -> int:
        return self.processes.start(
            f"host-{region}",
            [
                sys.executable,
                "-m",
                "shared.local.devhost",
                "--port",
                str(self.ports.host[region]),
                "--host-json",
                str(self.repo / "host.json"),
                "--eventgrid-retry-delays",
                "0.5,1,2,4,8",
                "--settings",
                str(self.settings_file(region)),
                "--workers",
                str(self.host_workers),
            ],
            env={"PYTHONPATH": str(self.repo), "PYTHONUNBUFFERED": "1"},
            cwd=self.repo,
        )

    def down(self) -> list[str]:
        stopped = []
        for name in reversed(self.processes.names()):
            if self.processes.stop(name):
                stopped.append(name)
        return stopped

    def status(self) -> dict[str, dict[str, Any]]:
        checks = {**self._infra_checks(), **self._host_checks()}
        report = {}
        for name, check in checks.items():
            pid = self.processes.pid(name)
            report[name] = {"pid": pid, "healthy": pid is not None and _safe(check)}
        return report

    # -- health ------------------------------------------------------------------------------
    def _infra_checks(self) -> dict[str, Any]:
        p = self.ports
        checks: dict[str, Any] = {
            "azurite": lambda: all(
                _http_answers(f"http://127.0.0.1:{port}/") for port in (p.blob, p.queue, p.table)
            ),
            "smtp": lambda: _smtp_answers(p.smtp),
            "teams": lambda: _http_ok(f"http://127.0.0.1:{p.teams}/health"),
            "devops": lambda: _http_ok(f"http://127.0.0.1:{p.devops}/health"),
            "standin": lambda: _http_ok(f"http://127.0.0.1:{p.standin}/health"),
            "prometheus": lambda: _http_ok(f"{self.prometheus_url}/-/ready"),
        }
        ctx = (
            ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file.exists() else None
        )
        for region in REGIONS:
            url = f"https://{self.login_server(region)}/v2/"
            checks[f"registry-{region}"] = lambda url=url: _http_answers(url, ctx)
        return checks

    def _host_checks(self) -> dict[str, Any]:
        return {
            f"host-{r}": (lambda r=r: _http_ok(f"{self.host_url(r)}/api/health")) for r in REGIONS
        }

    def _wait(self, checks: dict[str, Any], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(checks)
        misses: dict[str, int] = {}
        while pending:
            for name in list(pending):
                if self.processes.pid(name) is None:
                    misses[name] = misses.get(name, 0) + 1
                if misses.get(name, 0) >= 5:
                    log = self.processes.log_path(name)
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    raise RuntimeError(f"{name} is not running; last log lines:\n{tail}")
                if name in pending and _safe(pending[name]):
                    del pending[name]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.2)

    def environment(self, region: str) -> dict[str, str]:
        """The settings a process needs to act as ``region``'s cell (CLI, tests)."""
        values = self.local_settings(region)["Values"]
        return {k: str(v) for k, v in values.items() if str(v) != ""}


def _safe(check: Any) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a failing probe just means "not yet"
        return False


def _http_answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context):  # noqa: S310 - loopback
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    with urllib.request.urlopen(url, timeout=2, context=context) as r:  # noqa: S310
        return 200 <= r.status < 300


def _smtp_answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        return s.recv(3) == b"220"


def default_root(repo: Path) -> Path:
    return Path(os.environ.get("CLEARANCE_LOCAL_ROOT", str(repo / ".local")))


def _pid_alive(text: str) -> bool:
    try:
        os.kill(int(text), 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return False
    return True
