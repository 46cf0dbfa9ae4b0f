"""Kubernetes objects for a model served from a pre-built image: pure and deterministic.

Every value taken from metadata goes into a structured field (a label value, an annotation
value, an image reference) of a dict that is serialised as data, never spliced into text.
Names and label values are made valid by ``k8s_names``; free text only reaches annotations.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.domain.catalog import IngressTls
from shared.domain.deploy import chargeback
from shared.domain.deploy.k8s_names import digest_label, dns_label, label_value
from shared.domain.deploy.revision import Revision, Track
from shared.domain.intake.oci import RUNNABLE_PLATFORM
from shared.domain.metadata.rollout import Rolling
from shared.domain.metadata.serving import ImageServing

Manifest = dict[str, Any]

PREFIX = "clearance.ai/"
MANAGED_BY = "clearance"
FIELD_MANAGER = "clearance"
# The AKS application-routing add-on: its IngressClass and its NGINX controller's Service.
INGRESS_CLASS = "webapprouting.kubernetes.azure.com"
INGRESS_CONTROLLER = "nginx.app-routing-system.svc.cluster.local"
HOST_DOMAIN = "clearance.internal"
NGINX = "nginx.ingress.kubernetes.io/"
SERVICE_PORT = 80
PROGRESS_DEADLINE_SECONDS = 300
NETWORKING = "networking.k8s.io/v1"


class ObjectRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, manifest: Manifest) -> ObjectRef:
        meta = manifest["metadata"]
        return cls(
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            namespace=meta.get("namespace"),
            name=meta["name"],
        )

    @property
    def file_name(self) -> str:
        return f"{self.kind.lower()}-{self.name}.yaml"


def canary_name(model: str) -> str:
    return dns_label(model, "canary")


def shadow_name(model: str) -> str:
    return dns_label(model, "shadow")


def discard_name(model: str) -> str:
    return dns_label(model, "shadow-discard")


def colour_name(model: str, colour: str) -> str:
    return dns_label(model, colour)


def host(model: str, region: str) -> str:
    return f"{model}.{region}.{HOST_DOMAIN}"


def shadow_host(model: str, region: str) -> str:
    return f"{model}.shadow.{region}.{HOST_DOMAIN}"


def _model_labels(release: Revision) -> dict[str, str]:
    """On every object: what it serves, and who pays for it (the chargeback labels)."""
    md = release.metadata
    return {
        "app.kubernetes.io/name": label_value(md.name),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        f"{PREFIX}model": label_value(md.name),
        **chargeback.labels(md, release.stage),
    }


def _workload_labels(release: Revision, name: str, track: Track) -> dict[str, str]:
    labels = {
        **_model_labels(release),
        "app.kubernetes.io/instance": label_value(name),
        "app.kubernetes.io/version": label_value(release.metadata.version),
        "app.kubernetes.io/component": "model-server",
        f"{PREFIX}workload": label_value(name),
        f"{PREFIX}track": track,
        f"{PREFIX}approval": label_value(release.approval_id),
    }
    if release.artifact.digest is not None:
        labels[f"{PREFIX}digest"] = digest_label(release.artifact.digest)
    return labels


def _release_annotations(release: Revision) -> dict[str, str]:
    """What was approved, verbatim: annotation values are data, whatever they contain."""
    md = release.metadata
    notes = {
        f"{PREFIX}model": md.name,
        f"{PREFIX}version": md.version,
        f"{PREFIX}owner": str(md.owner),
        f"{PREFIX}approval-id": release.approval_id,
        f"{PREFIX}approved-by": ", ".join(release.approved_by),
        f"{PREFIX}approved-at": release.approved_at.isoformat(),
        f"{PREFIX}digest": release.artifact.digest or "",
        f"{PREFIX}image": release.image or "",
    }
    optional = {"description": md.description, "source": md.source, "revision": md.revision}
    notes.update({f"{PREFIX}{k}": v for k, v in optional.items() if v is not None})
    return notes


def _meta(name: str, namespace: str, labels: dict[str, str], notes: dict[str, str]) -> Manifest:
    meta: Manifest = {"name": name, "namespace": namespace, "labels": labels}
    if notes:
        meta["annotations"] = notes
    return meta


def namespace(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGED_BY,
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }


def _serving(release: Revision) -> ImageServing:
    serving = release.metadata.serving
    if not isinstance(serving, ImageServing):
        raise ValueError(f"{release.model} is not served from an image")
    return serving


def _rolling_update(release: Revision) -> Manifest:
    rollout = release.metadata.rollout
    if isinstance(rollout, Rolling):
        surge = rollout.max_surge if rollout.max_surge is not None else "25%"
        unavailable = rollout.max_unavailable if rollout.max_unavailable is not None else "25%"
    else:  # traffic strategies promote without losing capacity
        surge, unavailable = "25%", 0
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }


def _container(release: Revision, serving: ImageServing) -> Manifest:
    res = serving.resources
    probe = {"httpGet": {"path": serving.health_path, "port": "http", "scheme": "HTTP"}}
    return {
        "name": "model",
        "image": release.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": serving.port, "protocol": "TCP"}],
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "resources": {
            "requests": {"cpu": res.cpu, "memory": res.memory},
            "limits": {"cpu": res.cpu_limit or res.cpu, "memory": res.memory_limit or res.memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - emptyDir mount
    }


def deployment(release: Revision, name: str, track: Track) -> Manifest:
    """A hardened Deployment of ``release`` named ``name``; replicas are the HPA's."""
    serving = _serving(release)
    labels = _workload_labels(release, name, track)
    notes = _release_annotations(release)
    deployment_notes = {**notes, f"{PREFIX}deployment-id": release.deployment_id}
    if release.restored_from is not None:
        deployment_notes[f"{PREFIX}restored-from"] = release.restored_from
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, release.namespace, labels, deployment_notes),
        "spec": {
            "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {f"{PREFIX}workload": label_value(name)}},
            "strategy": _rolling_update(release),
            "template": {
                "metadata": {"labels": labels, "annotations": notes},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 30,
                    # The approved image is the linux/amd64 one (of an index, its amd64 entry):
                    # pods never land on a node of another architecture.
                    "nodeSelector": {
                        "kubernetes.io/os": RUNNABLE_PLATFORM[0],
                        "kubernetes.io/arch": RUNNABLE_PLATFORM[1],
                    },
                    # Replicas across zones, then nodes; ScheduleAnyway so a zone outage (or a
                    # region without zones) degrades the spread instead of blocking pods.
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": key,
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {
                                "matchLabels": {f"{PREFIX}workload": label_value(name)}
                            },
                        }
                        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                    ],
                    "containers": [_container(release, serving)],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        },
    }


def autoscaler(release: Revision, name: str, track: Track) -> Manifest:
    # A canary serves real users: two pods, so its disruption budget always keeps one while a
    # node drains. A shadow serves nobody (its answers are discarded): one pod is enough.
    small = track in ("canary", "shadow")
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, release.namespace, _workload_labels(release, name, track), {}),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1 if track == "shadow" else 2,
            "maxReplicas": 3 if small else 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def disruption_budget(release: Revision, name: str, track: Track) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(name, release.namespace, _workload_labels(release, name, track), {}),
        "spec": {
            # One pod at a time, never zero: a single-pod workload (a shadow) can still drain,
            # and a pod that is not ready never blocks a drain (AlwaysAllow).
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": {f"{PREFIX}workload": label_value(name)}},
        },
    }


def workload(release: Revision, name: str, track: Track) -> tuple[Manifest, ...]:
    """Deployment, HorizontalPodAutoscaler and PodDisruptionBudget of one workload."""
    return (
        deployment(release, name, track),
        autoscaler(release, name, track),
        disruption_budget(release, name, track),
    )


def service(release: Revision, name: str, target_workload: str | None) -> Manifest:
    """A ClusterIP Service; ``target_workload=None`` selects no pod (requests get a 503)."""
    selector = (
        {f"{PREFIX}workload": label_value(target_workload)}
        if target_workload is not None
        else {f"{PREFIX}discard": "true"}
    )
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, release.namespace, _model_labels(release), {}),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def ingress(
    release: Revision,
    name: str,
    backend: str,
    rule_host: str,
    *,
    canary_weight: int | None = None,
    mirror_host: str | None = None,
) -> Manifest:
    """An application-routing Ingress; a canary one (weight) or one mirroring to a host."""
    notes: dict[str, str] = {}
    if canary_weight is not None:
        notes[f"{NGINX}canary"] = "true"
        notes[f"{NGINX}canary-weight"] = str(canary_weight)
    if mirror_host is not None:
        # Mirrored requests re-enter the controller under the shadow host, whose canary
        # split drops the share that is not to be mirrored. Their responses are discarded.
        notes[f"{NGINX}mirror-target"] = f"http://{INGRESS_CONTROLLER}$request_uri"
        notes[f"{NGINX}mirror-host"] = mirror_host
        notes[f"{NGINX}mirror-request-body"] = "on"
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": backend, "port": {"name": "http"}}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(name, release.namespace, _model_labels(release), notes),
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "rules": [{"host": rule_host, "http": {"paths": [path]}}],
        },
    }


def network_policy(release: Revision, ingress_namespace: str) -> Manifest:
    """Default deny for the model's pods: only the ingress controller's namespace may connect,
    and only to the serving port (by name: it follows the port of every version)."""
    name = release.metadata.name
    return {
        "apiVersion": NETWORKING,
        "kind": "NetworkPolicy",
        "metadata": _meta(name, release.namespace, _model_labels(release), {}),
        "spec": {
            "podSelector": {"matchLabels": {f"{PREFIX}model": label_value(name)}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": ingress_namespace}
                            }
                        }
                    ],
                    "ports": [{"port": "http", "protocol": "TCP"}],
                }
            ],
        },
    }


def with_tls(manifest: Manifest, tls: IngressTls | None) -> Manifest:
    """The Ingress serving its host over TLS, from the catalog's certificate source. Canary
    Ingresses share the main Ingress's host and certificate, so they are left as they are."""
    notes = manifest["metadata"].get("annotations") or {}
    if tls is None or manifest["kind"] != "Ingress" or f"{NGINX}canary" in notes:
        return manifest
    name = manifest["metadata"]["name"]
    hosts = [rule["host"] for rule in manifest["spec"]["rules"]]
    if tls.cluster_issuer is not None:
        extra = {"cert-manager.io/cluster-issuer": tls.cluster_issuer}
        secret = f"{name}-tls"
    else:
        extra = {"kubernetes.azure.com/tls-cert-keyvault-uri": str(tls.keyvault_certificate_uri)}
        secret = f"keyvault-{name}"  # the name the application-routing add-on fills
    metadata = {**manifest["metadata"], "annotations": {**notes, **extra}}
    spec = {**manifest["spec"], "tls": [{"hosts": hosts, "secretName": secret}]}
    return {**manifest, "metadata": metadata, "spec": spec}
