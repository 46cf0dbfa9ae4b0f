"""The GitOps form of a phase: YAML files under the path Flux reconciles, and a commit message
whose trailers say what was approved.

Layout under the region's ``gitops.path``::

    <namespace>/namespace.yaml                     (shared by the models of a team namespace)
    <namespace>/<model>/<kind>-<name>.yaml         (one object per file; the directory is
                                                    replaced as a whole at every step)
"""

from __future__ import annotations

import re

import yaml

from shared.domain.deploy.manifests.objects import Manifest, ObjectRef
from shared.domain.deploy.manifests.phases import K8sPhase
from shared.domain.deploy.plan import DeploymentPlan

HEADER = "# Managed by Clearance: every change here is an approved deployment. Do not edit.\n"


class _PlainDumper(yaml.SafeDumper):
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
