"""The gitops driver: each step is one commit to the region's GitOps repository, which Flux
on the region's AKS cluster reconciles. The commit SHA goes into lineage.

Health gates need to see the cluster: given a ``Cluster`` (read access to AKS), the driver
checks the gated Deployments there; without one (the local stack has no cluster) a gate
passes and says it was not observed.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, Mapping

from shared.domain.deploy.codes import DeployCode, PlanError
from shared.domain.deploy.k8s_status import healthy
from shared.domain.deploy.manifests.gitops import (
    KUSTOMIZATION,
    ListingError,
    commit_message,
    listing_paths,
    merge_listing,
    model_dir,
    model_kustomization,
    namespace_file,
    removal_message,
    render_files,
    unlist,
)
from shared.domain.deploy.manifests.phases import K8sPhase, phase_for, restore_phase
from shared.domain.deploy.manifests.validation import validate_manifests
from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.deploy.steps import steps_for
from shared.ports.deploy import Cluster, GitOpsRepository, Health, StepReport


class GitOpsDeployer:
    def __init__(
        self,
        repository_for: Callable[[DeploymentPlan], GitOpsRepository],
        observer_for: Callable[[DeploymentPlan], Cluster | None] = lambda plan: None,
    ) -> None:
        self._repository_for = repository_for
        self._observer_for = observer_for

    def run_step(self, plan: DeploymentPlan, index: int) -> StepReport:
        steps = steps_for(plan)
        return self._commit(plan, phase_for(plan, index), f"step {index + 1}/{len(steps)}")

    def restore(self, plan: DeploymentPlan) -> StepReport:
        return self._commit(plan, restore_phase(plan), "restore")

    def remove(self, plan: DeploymentPlan) -> StepReport:
        """One commit deleting the model's folder and its entry in the namespace listing."""
        repository = self._repository_for(plan)
        (listing, _), _ = listing_paths(plan)

        class _Unlisted(Mapping[str, str | None]):  # read against the head being written on
            def _files(self) -> dict[str, str | None]:
                try:
                    return {listing: unlist(repository.read(listing), plan.model)}
                except ListingError as exc:
                    raise PlanError(
                        DeployCode.INVALID_MANIFEST,
                        f"The GitOps listing {listing} was edited outside Clearance ({exc}); "
                        "restore it before removing.",
                    ) from exc

            def __getitem__(self, key: str) -> str | None:
                return self._files()[key]

            def __iter__(self) -> Iterator[str]:
                return iter(self._files())

            def __len__(self) -> int:
                return len(self._files())

        sha = repository.replace(
            model_dir(plan),
            {},
            _Unlisted(),
            removal_message(plan, "Expired deployment to a non-production stage."),
        )
        return StepReport(
            where={
                "gitops_repository": repository.url,
                "gitops_branch": repository.branch,
                "gitops_path": model_dir(plan),
                "gitops_commit": sha,
                "namespace": plan.namespace,
            },
            details={"phase": "remove", "files": "0"},
        )

    def check_health(self, plan: DeploymentPlan, index: int) -> Health:
        gate = phase_for(plan, index).gate
        observer = self._observer_for(plan)
        if observer is None:
            return Health(True, "not observed: no cluster access configured for this region")
        for name in gate:
            ok, reason = healthy(observer.deployment_status(plan.namespace, name))
            if not ok:
                return Health(False, f"{name}: {reason}")
        return Health(True, "healthy")

    def _commit(self, plan: DeploymentPlan, phase: K8sPhase, step_of: str) -> StepReport:
        validate_manifests(phase.desired, plan.kubernetes_version)
        ns_text, files = render_files(phase)
        files[KUSTOMIZATION] = model_kustomization(plan, files)
        repository = self._repository_for(plan)
        sha = repository.replace(
            model_dir(plan),
            dict(sorted(files.items())),
            _SharedFiles(repository, plan, ns_text),
            commit_message(plan, phase.step, step_of),
        )
        return StepReport(
            where={
                "gitops_repository": repository.url,
                "gitops_branch": repository.branch,
                "gitops_path": model_dir(plan),
                "gitops_commit": sha,
                "namespace": plan.namespace,
            },
            details={"phase": phase.step, "files": str(len(files))},
        )


class _SharedFiles(Mapping[str, str | None]):
    """The namespace file and the two shared listings, merged with the branch *as synced when
    the repository writes them*: a push that raced another model's commit is retried on the
    new head, and the listings then include that model too."""

    def __init__(self, repository: GitOpsRepository, plan: DeploymentPlan, ns: str | None):
        self._repository, self._plan, self._ns = repository, plan, ns

    def _files(self) -> dict[str, str | None]:
        files: dict[str, str | None] = {namespace_file(self._plan): self._ns}
        no_namespace = (
            self._ns is None and self._repository.read(namespace_file(self._plan)) is None
        )
        for path, entries in listing_paths(self._plan):
            if no_namespace:
                entries = [e for e in entries if e != "namespace.yaml"]
            try:
                files[path] = merge_listing(self._repository.read(path), entries)
            except ListingError as exc:
                raise PlanError(
                    DeployCode.INVALID_MANIFEST,
                    f"The GitOps listing {path} was edited outside Clearance ({exc}); "
                    "restore it before deploying.",
                ) from exc
        return files

    def items(self) -> ItemsView[str, str | None]:
        """All of them from one reading of the branch (``Mapping.items`` would read it again
        for every key)."""
        return self._files().items()

    def __getitem__(self, key: str) -> str | None:
        return self._files()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files())

    def __len__(self) -> int:
        return len(self._files())
