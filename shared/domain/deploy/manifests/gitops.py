"""The GitOps form of a phase: YAML files under the path Flux reconciles, and a commit message
whose trailers say what was approved.

Layout under the region's ``gitops.path``::

    kustomization.yaml                             (lists every namespace directory)
    <namespace>/kustomization.yaml                 (namespace.yaml and every model directory)
    <namespace>/namespace.yaml                     (shared by the models of a team namespace)
    <namespace>/<model>/kustomization.yaml         (the model's files, with its common labels)
    <namespace>/<model>/<kind>-<name>.yaml         (one object per file; the directory is
                                                    replaced as a whole at every step)

Every directory has a ``kustomization.yaml``, so ``kustomize build`` (``kubectl kustomize``)
works on any of them and Flux reconciles the tree as written (it generates nothing). The two
shared listings are merged with what the branch already lists (``merge_listing``): entries are
only ever added, so a model's commit never drops another model (which Flux would prune).
"""

from __future__ import annotations

import re

import yaml

from shared.domain.deploy.manifests.objects import MANAGED_BY, Manifest, ObjectRef
from shared.domain.deploy.manifests.phases import K8sPhase
from shared.domain.deploy.plan import DeploymentPlan

HEADER = "# Managed by Clearance: every change here is an approved deployment. Do not edit.\n"
KUSTOMIZATION = "kustomization.yaml"
_KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


class ListingError(ValueError):
    """A shared ``kustomization.yaml`` on the branch is not one Clearance can extend."""


# libyaml's emitter (PyYAML's C extension) writes the same documents about five times faster
# than the pure-Python one (1.0 against 5.4 ms per manifest): a deployment step renders every
# object of its phase, on the deciding vote's host. Both emit YAML that loads back to the same
# value; for ordinary manifests their text is identical (the golden files), for hostile
# strings their line folding can differ. Without the extension, the Python emitter.
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _PlainDumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """No anchors or aliases: every object reads the same to every YAML tool."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def to_yaml(manifest: Manifest) -> str:
    """Deterministic YAML: sorted keys, block style, every string quoted where YAML needs it."""
    return yaml.dump(
        manifest,
        Dumper=_PlainDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=False,
    )


def model_dir(plan: DeploymentPlan) -> str:
    if plan.gitops is None:
        raise ValueError("a GitOps plan needs the region's gitops target")
    return f"{plan.gitops.path}/{plan.namespace}/{plan.model}"


def namespace_file(plan: DeploymentPlan) -> str:
    if plan.gitops is None:
        raise ValueError("a GitOps plan needs the region's gitops target")
    return f"{plan.gitops.path}/{plan.namespace}/namespace.yaml"


def render_files(phase: K8sPhase) -> tuple[str | None, dict[str, str]]:
    """(the Namespace file's content, {file name in the model directory: content})."""
    ns: str | None = None
    files: dict[str, str] = {}
    for manifest in phase.desired:
        text = HEADER + to_yaml(manifest)
        if manifest["kind"] == "Namespace":
            ns = text
        else:
            files[ObjectRef.of(manifest).file_name] = text
    return ns, dict(sorted(files.items()))


def trailer_value(text: str) -> str:
    """One line: a value can never start a new trailer or paragraph."""
    return re.sub(r"\s+", " ", "".join(c if c.isprintable() else " " for c in text)).strip()


def commit_message(plan: DeploymentPlan, phase: str, step_of: str) -> str:
    release = plan.release
    verb = "Roll back" if plan.is_rollback else "Deploy"
    subject = (
        f"{verb} {plan.model} {release.metadata.version} to {plan.region} ({phase}, {step_of})"
    )
    body = [
        f"Strategy: {plan.strategy.strategy}",
        f"Artifact: {release.image or release.identity}",
        f"Replaces: {plan.replaces.summary() if plan.replaces else 'nothing'}",
    ]
    trailers = [
        f"Approval-Id: {release.approval_id}",
        f"Artifact-Digest: {release.artifact.digest or release.identity}",
        *(f"Approved-By: {who}" for who in release.approved_by),
        f"Deployment-Id: {plan.deployment_id}",
    ]
    if plan.rollback_of:
        trailers.append(f"Rollback-Of: {plan.rollback_of}")
        if plan.requested_by:
            trailers.append(f"Requested-By: {plan.requested_by}")
    lines = [trailer_value(t) for t in trailers]
    return "\n".join([trailer_value(subject), "", *map(trailer_value, body), "", *lines]) + "\n"


def removal_message(plan: DeploymentPlan, why: str) -> str:
    """The commit that takes a model out of a stage (its folder deleted)."""
    release = plan.release
    subject = f"Remove {plan.model} {release.metadata.version} from {plan.region} {plan.stage}"
    trailers = [
        f"Approval-Id: {release.approval_id}",
        f"Artifact-Digest: {release.artifact.digest or release.identity}",
        f"Deployment-Id: {plan.deployment_id}",
        f"Removed-By: {plan.requested_by or 'clearance'}",
    ]
    lines = [trailer_value(t) for t in trailers]
    return "\n".join([trailer_value(subject), "", trailer_value(why), "", *lines]) + "\n"


def _kustomization(resources: list[str], labels: dict[str, str]) -> str:
    doc: Manifest = {"apiVersion": _KUSTOMIZE_API, "kind": "Kustomization", "resources": resources}
    if labels:
        # ``labels`` without selectors: ``commonLabels`` would rewrite Deployment selectors,
        # which are immutable. The objects already carry these labels; this keeps it so.
        doc["labels"] = [{"pairs": labels, "includeSelectors": False}]
    return HEADER + to_yaml(doc)


def model_kustomization(plan: DeploymentPlan, files: dict[str, str]) -> str:
    """The model directory's kustomization: its files, with the labels every object carries."""
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY}
    return _kustomization(sorted(files), labels)


MAX_LISTING_CHARS = 256 * 1024  # thousands of paths; a listing is edited by people


def merge_listing(existing: str | None, entries: list[str]) -> str:
    """A shared listing (root or namespace) with ``entries`` added to what it already lists.

    Raises ``ListingError`` when the branch holds something else there (edited by hand):
    rewriting it could drop another model's directory, which Flux would then prune."""
    resources: list[str] = []
    if existing is not None:
        if len(existing) > MAX_LISTING_CHARS:
            raise ListingError(f"larger than {MAX_LISTING_CHARS} characters")
        try:
            doc = yaml.safe_load(existing)
        except yaml.YAMLError as exc:
            raise ListingError(f"not YAML: {exc}") from exc
        except RecursionError as exc:  # PyYAML composes nested collections recursively
            raise ListingError("nested too deeply") from exc
        listed = doc.get("resources") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or doc.get("kind") != "Kustomization":
            raise ListingError("not a Kustomization")
        if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
            raise ListingError("its resources are not a list of paths")
        resources = list(listed)
    for entry in entries:
        if entry not in resources:
            resources.append(entry)
    return _kustomization(sorted(resources), {"app.kubernetes.io/managed-by": MANAGED_BY})


def unlist(existing: str | None, entry: str) -> str | None:
    """A shared listing without ``entry`` (None when there is no listing to change)."""
    if existing is None:
        return None
    kept = yaml.safe_load(merge_listing(existing, []))["resources"]
    return _kustomization(
        sorted(r for r in kept if r != entry), {"app.kubernetes.io/managed-by": MANAGED_BY}
    )


def listing_paths(plan: DeploymentPlan) -> tuple[tuple[str, list[str]], tuple[str, list[str]]]:
    """(namespace listing path, its entries), (root listing path, its entries)."""
    if plan.gitops is None:
        raise ValueError("a GitOps plan needs the region's gitops target")
    root = plan.gitops.path
    return (
        (f"{root}/{plan.namespace}/{KUSTOMIZATION}", ["namespace.yaml", plan.model]),
        (f"{root}/{KUSTOMIZATION}", [plan.namespace]),
    )
