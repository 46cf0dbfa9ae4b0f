"""The gitops driver against real git repositories (bare remotes, as Flux would read them)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from shared.adapters.gitops.repository import GitRepository
from shared.domain.catalog import RegionEntry
from shared.domain.deploy.plan import DeploymentPlan, build_plan
from shared.domain.errors import TransientError
from shared.domain.lineage.record import RecordKind
from shared.services.deploy.drivers.gitops import GitOpsDeployer
from shared.services.deploy.rollback import request_rollback
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_world import World

MODELS = "clusters/westeurope/models"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def region(tmp_path: Path) -> RegionEntry:
    entry = s.cell(tmp_path, deployer="gitops")
    assert entry.gitops is not None
    remote = Path(entry.gitops.repository_url)
    remote.parent.mkdir(parents=True)
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(remote)], check=True)
    return entry


def remote_of(region: RegionEntry) -> Path:
    assert region.gitops is not None
    return Path(region.gitops.repository_url)


def repository(region: RegionEntry, workdir: Path) -> GitRepository:
    assert region.gitops is not None
    return GitRepository(region.gitops.repository_url, "main", workdir)


@pytest.fixture
def world(region: RegionEntry, tmp_path: Path) -> World:
    w = World(region)
    repo = repository(region, tmp_path / "clone")
    w.driver = GitOpsDeployer(lambda plan: repo)
    return w


def show(region: RegionEntry, path: str) -> str:
    return git(remote_of(region), "show", f"main:{path}")


def test_a_deployment_is_one_commit_with_trailers_and_its_sha_in_lineage(world: World) -> None:
    request = s.image_request(world.cell)
    assert world.run(request) == [DeployOutcome.SUCCEEDED]
    remote = remote_of(world.cell)
    head = git(remote, "rev-parse", "main").strip()
    done = world.lineage.records[-1]
    assert done.kind is RecordKind.DEPLOYMENT_SUCCEEDED
    assert done.where["gitops_commit"] == head
    message = git(remote, "log", "-1", "--format=%B", "main")
    trailers = subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=message, capture_output=True, text=True,
        check=True,
    ).stdout.splitlines()  # fmt: skip
    assert trailers[:4] == [
        f"Approval-Id: {request.approval_id}",
        f"Artifact-Digest: {request.artifact.digest}",
        "Approved-By: approver.one@contoso.example",
        "Approved-By: approver.two@contoso.example",
    ]
    files = git(remote, "ls-tree", "-r", "--name-only", "main").split()
    assert f"{MODELS}/model-fraud-detector/namespace.yaml" in files
    deployment = yaml.safe_load(
        show(
            world.cell,
            f"{MODELS}/model-fraud-detector/fraud-detector/deployment-fraud-detector.yaml",
        )
    )
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f"@{request.artifact.digest}")
    # a redelivery neither rolls out nor commits again
    assert world.deliver(request, delivery=2) == DeployOutcome.ALREADY_LIVE
    assert git(remote, "rev-parse", "main").strip() == head


def test_the_same_step_twice_makes_no_second_commit(region: RegionEntry, tmp_path: Path) -> None:
    repo = repository(region, tmp_path / "clone")
    driver = GitOpsDeployer(lambda plan: repo)
    plan = build_plan(s.image_request(region), region, None)
    first = driver.run_step(plan, 0).where["gitops_commit"]
    assert driver.run_step(plan, 0).where["gitops_commit"] == first
    assert git(remote_of(region), "rev-list", "--count", "main").strip() == "1"


def test_a_gitops_rollback_restores_the_previous_files(world: World) -> None:
    v1 = s.image_request(world.cell, s.image_metadata("rolling", "1"))
    world.run(v1)
    path = f"{MODELS}/model-fraud-detector/fraud-detector/deployment-fraud-detector.yaml"
    v1_file = show(world.cell, path)
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "2")))
    assert show(world.cell, path) != v1_file
    request_rollback("fraud-detector", ["approver.one@contoso.example"], "easy_auth", "bad",
                     world.rollback_deps)  # fmt: skip
    assert world.drain() == [DeployOutcome.SUCCEEDED]
    restored = yaml.safe_load(show(world.cell, path))
    before = yaml.safe_load(v1_file)
    assert restored["spec"]["template"] == before["spec"]["template"]
    log = git(remote_of(world.cell), "log", "-1", "--format=%B", "main")
    assert "Rollback-Of: " in log and f"Artifact-Digest: {v1.artifact.digest}" in log


def test_concurrent_deployments_of_two_models_lose_no_commit(
    region: RegionEntry, tmp_path: Path
) -> None:
    """Two Function instances (two clones) commit to one region's repository at once."""
    plans: list[DeploymentPlan] = []
    for name in ("fraud-detector", "churn-scorer"):
        for version in ("1", "2", "3"):
            md = s.image_metadata("rolling", version, name=name)
            plans.append(build_plan(s.image_request(region, md), region, None))
    clones = {
        "fraud-detector": repository(region, tmp_path / "a"),
        "churn-scorer": repository(region, tmp_path / "b"),
    }
    shas: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def deploy(model: str) -> None:
        driver = GitOpsDeployer(lambda plan: clones[model])
        try:
            for plan in [p for p in plans if p.model == model]:
                barrier.wait(timeout=10)
                shas.append(driver.run_step(plan, 0).where["gitops_commit"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(m,)) for m in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    history = git(remote_of(region), "rev-list", "main").split()
    assert len(history) == 6 and set(shas) == set(history)
    for name in clones:
        deployment = yaml.safe_load(
            show(region, f"{MODELS}/model-{name}/{name}/deployment-{name}.yaml")
        )
        assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "3"
    # the shared listings raced too, and still list both models (Flux would prune a dropped one)
    root = yaml.safe_load(show(region, f"{MODELS}/kustomization.yaml"))
    assert root["resources"] == ["model-churn-scorer", "model-fraud-detector"]
    built = kustomize(region, tmp_path, MODELS)
    assert {d["metadata"]["name"] for d in built if d["kind"] == "Deployment"} == set(clones)


def test_an_unreachable_remote_is_transient(region: RegionEntry, tmp_path: Path) -> None:
    assert region.gitops is not None
    repo = GitRepository(str(tmp_path / "missing.git"), "main", tmp_path / "clone", timeout=10)
    driver = GitOpsDeployer(lambda plan: repo)
    with pytest.raises(TransientError):
        driver.run_step(build_plan(s.image_request(region), region, None), 0)


def test_nothing_is_written_outside_the_repository(tmp_path: Path) -> None:
    from shared.domain.errors import TerminalError

    repo = GitRepository(str(tmp_path / "r.git"), "main", tmp_path / "clone")
    subprocess.run(
        ["git", "init", "--bare", "-q", "-b", "main", str(tmp_path / "r.git")], check=True
    )
    with pytest.raises(TerminalError):
        repo.replace("../escape", {"x.yaml": "a: 1\n"}, {}, "m\n")
    with pytest.raises(TerminalError):
        repo.replace("ok", {"x.yaml": "a: 1\n"}, {".git/hooks/post-commit": "x"}, "m\n")


def test_a_gitops_canary_commits_each_step_and_says_its_gates_were_not_observed(
    world: World,
) -> None:
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "1")))
    outcomes = world.run(s.image_request(world.cell, s.image_metadata("canary", "2")))
    assert outcomes == [DeployOutcome.STEPPED, DeployOutcome.STEPPED, DeployOutcome.SUCCEEDED]
    subjects = git(remote_of(world.cell), "log", "--format=%s", "main").splitlines()
    assert [x.split("(")[1] for x in subjects[:3]] == [
        "promote, step 3/3)",
        "canary-50, step 2/3)",
        "canary-10, step 1/3)",
    ]
    started = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_STARTED]
    gates = [r.details.get("health_gate", "") for r in started if r.details["version"] == "2"]
    assert gates[0] == "" and all(g.startswith("not observed") for g in gates[1:])


def kustomize(region: RegionEntry, tmp_path: Path, path: str) -> list[dict[str, object]]:
    """``kubectl kustomize`` on a fresh checkout of the branch Flux reads."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (scripts/bootstrap installs kubernetes-client)")
    checkout = tmp_path / f"checkout-{len(list(tmp_path.glob('checkout-*')))}"
    subprocess.run(
        ["git", "clone", "-q", "-b", "main", str(remote_of(region)), str(checkout)], check=True
    )
    out = subprocess.run(
        [kubectl, "kustomize", str(checkout / path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_every_committed_directory_builds_with_kubectl_kustomize(
    world: World, tmp_path: Path
) -> None:
    world.run(s.image_request(world.cell, s.image_metadata("canary", "1")))
    world.run(s.image_request(world.cell, s.image_metadata("canary", "2")))
    namespace = f"{MODELS}/model-fraud-detector"
    files = git(remote_of(world.cell), "ls-tree", "-r", "--name-only", "main").split()
    directories = {f.rsplit("/", 1)[0] for f in files}
    assert directories == {MODELS, namespace, f"{namespace}/fraud-detector"}
    for directory in sorted(directories):
        assert f"{directory}/kustomization.yaml" in files
        assert kustomize(world.cell, tmp_path, directory)
    built = kustomize(world.cell, tmp_path, MODELS)
    committed = [
        yaml.safe_load(show(world.cell, f)) for f in files if not f.endswith("kustomization.yaml")
    ]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    # the build is exactly the committed objects: the common label changes nothing
    assert sorted(built, key=key) == sorted(committed, key=key)
    listing = yaml.safe_load(show(world.cell, f"{namespace}/fraud-detector/kustomization.yaml"))
    assert listing["labels"] == [
        {"pairs": {"app.kubernetes.io/managed-by": "clearance"}, "includeSelectors": False}
    ]


def test_chargeback_labels_survive_kubectl_kustomize_on_every_object(
    world: World, tmp_path: Path
) -> None:
    # An owner address and a version that are no label values as they stand.
    md = s.image_metadata("canary", "2.0.0+rc.1", owner="Jörg.O'Neil@contoso.example")
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "1")))
    world.run(s.image_request(world.cell, md))

    built = kustomize(world.cell, tmp_path, MODELS)
    labelled = [d for d in built if d["kind"] != "Namespace"]
    assert {d["kind"] for d in labelled} >= {"Deployment", "Service", "Ingress", "NetworkPolicy"}
    for doc in labelled:
        labels = doc["metadata"]["labels"]  # type: ignore[index]
        assert labels["clearance.ai/cost-centre"] == "CC-4711"
        assert labels["clearance.ai/team"] == "payments-ml"
        assert labels["clearance.ai/stage"] == "prod"
        assert labels["clearance.ai/owner"].startswith("J_rg.O_Neil_contoso.example-")
        assert labels["clearance.ai/model-version"].startswith("2.0.0_rc.1-")
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in built if d["kind"] == "Deployment"]
    assert pods and all(p["clearance.ai/cost-centre"] == "CC-4711" for p in pods)  # type: ignore[index]


def test_a_hand_edited_listing_is_refused_not_overwritten(
    region: RegionEntry, tmp_path: Path
) -> None:
    from shared.domain.deploy.codes import DeployCode, PlanError

    repo = repository(region, tmp_path / "clone")
    driver = GitOpsDeployer(lambda plan: repo)
    driver.run_step(build_plan(s.image_request(region), region, None), 0)
    editor = tmp_path / "editor"
    subprocess.run(["git", "clone", "-q", str(remote_of(region)), str(editor)], check=True)
    (editor / MODELS / "kustomization.yaml").write_text("resources: [unclosed\n")
    git(editor, "commit", "-qam", "hand edit")
    git(editor, "push", "-q", "origin", "HEAD:main")
    md = s.image_metadata("rolling", "1", name="churn-scorer")
    with pytest.raises(PlanError) as caught:
        driver.run_step(build_plan(s.image_request(region, md), region, None), 0)
    assert caught.value.violation.code == DeployCode.INVALID_MANIFEST


def test_an_expired_staging_deployment_is_removed_in_one_commit(
    region: RegionEntry, tmp_path: Path
) -> None:
    """A staged GitOps region: staging's folder goes in one commit when its deployment expires;
    the repeated timer run commits nothing; the namespace listing no longer names the model."""
    from datetime import UTC, datetime

    from shared.domain.deploy.expiry import ExpiryPolicy
    from shared.services.deploy.expiry import ExpiryDeps, Swept, sweep

    assert region.gitops is not None
    doc = region.model_dump(mode="json")
    staging_path = f"{region.gitops.path}/staging"
    doc["stages"] = [
        {
            "name": "staging",
            "name_prefix": "stg",
            "gitops": {**doc["gitops"], "path": staging_path},
        },
        {"name": "prod"},
    ]
    doc["expiry"] = ExpiryPolicy(non_production_hours=24, notice_hours=1).model_dump()
    world = World(RegionEntry.model_validate(doc))
    repo = repository(world.cell, tmp_path / "clone")
    world.driver = GitOpsDeployer(lambda plan: repo)
    world.clock.now = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    assert world.run(s.image_request(world.cell))[0] == DeployOutcome.SUCCEEDED
    remote = remote_of(world.cell)
    folder = f"{staging_path}/stg-model-fraud-detector/fraud-detector/"
    listing = f"{staging_path}/stg-model-fraud-detector/kustomization.yaml"

    def files() -> list[str]:
        return git(remote, "ls-tree", "-r", "--name-only", "main").split()

    assert any(f.startswith(folder) for f in files())
    assert "fraud-detector" in yaml.safe_load(show(world.cell, listing))["resources"]
    deployed = git(remote, "rev-parse", "main").strip()

    deps = ExpiryDeps(
        cell=world.cell,
        state=world.store,
        lineage=world.lineage,
        bus=world.bus,
        mailer=world.mailer,
        clock=world.clock,
        removers=lambda kind: world.driver,  # type: ignore[arg-type,return-value]
    )
    world.clock.advance(25 * 3600)
    assert list(sweep(deps).values()) == [Swept.REMOVED]
    head = git(remote, "rev-parse", "main").strip()
    assert git(remote, "rev-parse", f"{head}^").strip() == deployed  # exactly one commit
    assert not any(f.startswith(folder) for f in files())
    assert "fraud-detector" not in yaml.safe_load(show(world.cell, listing))["resources"]
    subject = git(remote, "log", "-1", "--format=%s", "main").strip()
    assert subject.startswith("Remove fraud-detector ") and subject.endswith("westeurope staging")
    removed = world.lineage.records[-1]
    assert removed.kind is RecordKind.DEPLOYMENT_REMOVED
    assert removed.where["gitops_commit"] == head
    assert removed.details["stage"] == "staging" and removed.details["production"] == "false"
    assert sweep(deps) == {}
    assert git(remote, "rev-parse", "main").strip() == head  # no second commit
