"""`clearance push-sample` and `clearance simulate model-registered`: walk the local stack."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.check import read_labels_file
from shared.composition import Container
from shared.domain.lineage.record import INTAKE_TERMINAL, ArtifactRef, LineageRecord, RecordKind
from shared.local.stack import SAMPLE_OWNER, SAMPLE_PEOPLE, LocalStack, default_root
from shared.settings import build_settings

REPO = Path(__file__).resolve().parents[2]
console = Console(width=140)
simulate = typer.Typer(help="Post realistic Azure events to a local cell.")


def _stack(root: Path | None) -> LocalStack:
    stack = LocalStack(root or default_root(REPO), REPO)
    if not (stack.root / "stack.json").exists():
        raise typer.BadParameter("the local stack is not set up: run `make run` first")
    return stack


def follow(
    stack: LocalStack,
    region: str,
    artifact: ArtifactRef,
    wait: float,
    until: frozenset[RecordKind] = INTAKE_TERMINAL,
    stage: str | None = None,
) -> LineageRecord:
    """Print the artifact's lineage as it grows, until its terminal record (or time runs out);
    ``stage``: a terminal record of that stage (``details.stage``) only."""
    from shared.adapters.storage.lineage.writer import TableLineageWriter

    cell = Container(build_settings(stack.environment(region)))
    lineage = TableLineageWriter(cell.table_service)
    deadline = time.monotonic() + wait
    while True:
        records = lineage.list_for(artifact.key_hash)
        final = [
            r
            for r in records
            if r.kind in until and (stage is None or r.details.get("stage") == stage)
        ]
        if final or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    table = Table("when (UTC)", "step", "region", "details", title=f"lineage of {artifact.key}")
    for r in records:
        why = "; ".join(f"{x.code} [{x.field}]: {x.message}" for x in r.reasons)
        extra = ", ".join(f"{k}={v}" for k, v in r.details.items())
        table.add_row(f"{r.at:%H:%M:%S.%f}"[:-3], str(r.kind), r.region, why or extra)
    console.print(table)
    if not final:
        console.print(f"[red]no decision within {wait:.0f}s; see {stack.root}/logs/[/red]")
        raise typer.Exit(1)
    return final[-1]


def register(app: typer.Typer) -> None:
    app.command("push-sample")(push_sample)
    simulate.command("model-registered")(model_registered)
    app.add_typer(simulate, name="simulate")


def push_sample(
    region: str = typer.Option("westeurope", help="the cell whose registry receives the push"),
    labels_file: Path = typer.Option(REPO / "examples" / "labels.env", help="KEY=VALUE labels"),
    repository: str = typer.Option("models/fraud-detector"),
    tag: str | None = typer.Option(None, help="default: the version label"),
    root: Path | None = typer.Option(None),
    wait: float = typer.Option(30.0, help="seconds to wait for the decision"),
    approve: bool = typer.Option(
        False, help="approve as both local sample approvers (their emailed links) and deploy"
    ),
    canary: str | None = typer.Option(
        None,
        help="with --approve: then canary a next version that is 'good' or 'bad' (the model "
        "stand-in's switch) and show the metric analysis promote or roll it back",
    ),
    as_person: str = typer.Option(
        SAMPLE_OWNER,
        "--as",
        help="the sample person who pushes (a registry user): the registry records them as "
        f"the pusher. One of: {', '.join(SAMPLE_PEOPLE)}",
    ),
    sign: bool = typer.Option(
        False, help="sign the image with the local stack's cosign key (local-ci) before its push"
    ),
) -> None:
    """Push a real sample image with the given labels and show what the cell decided."""

    from shared.local.images import push_image

    stack = _stack(root)
    labels = read_labels_file(labels_file)
    if as_person not in SAMPLE_PEOPLE:
        raise typer.BadParameter(f"not a sample person: {as_person}", param_hint="--as")
    client = stack.registry_client(region, as_person)
    pushed = push_image(
        client,
        repository,
        labels,
        tag=tag or labels.get("org.opencontainers.image.version"),
        before_manifest=_signer(stack, client, repository) if sign else None,
    )
    console.print(
        f"pushed {stack.login_server(region)}/{repository}@{pushed.digest} as {as_person}"
    )
    artifact = ArtifactRef(
        kind="image",
        registry=stack.login_server(region),
        repository=repository,
        digest=pushed.digest,
    )
    final = follow(stack, region, artifact, wait)
    _explain(final)
    if stack.state.stages and final.kind is RecordKind.APPROVAL_REQUESTED:
        _walk_stages(stack, region, artifact, approve, wait)
    else:
        links = _show_review_links(stack, region, artifact, wait)
        if approve and final.kind is RecordKind.APPROVAL_REQUESTED:
            _approve_and_deploy(stack, region, artifact, links, wait)
    if canary is not None:
        if canary not in ("good", "bad") or not approve:
            raise typer.BadParameter("--canary good|bad needs --approve", param_hint="--canary")
        _canary(stack, region, repository, labels, canary, wait)


def _canary(
    stack: LocalStack,
    region: str,
    repository: str,
    labels: dict[str, str],
    health: str,
    wait: float,
) -> None:
    """Canary a next version against the live one, on real Prometheus, and follow it."""

    from shared.local.images import push_image
    from shared.local.model_standin import write_control

    model = labels.get("ai.clearance.model.name", "fraud-detector")
    live = labels.get("org.opencontainers.image.version", "1.0.0")
    version = f"{live}.c{int(time.time()) % 1_000_000}"
    write_control(
        stack.standin_control,
        {live: "healthy", version: "healthy" if health == "good" else "bad"},
        model=model,
    )
    console.print(f"model stand-in: {live} healthy, {version} {health}; letting Prometheus scrape")
    time.sleep(6)
    canary_labels = {
        **labels,
        "org.opencontainers.image.version": version,
        "ai.clearance.rollout.strategy": "canary",
        "ai.clearance.rollout.canary.steps": "10,50,100",
        "ai.clearance.rollout.canary.bake-minutes": "5",
    }
    for key in [k for k in canary_labels if k.startswith("ai.clearance.rollout.rolling.")]:
        del canary_labels[key]
    client = stack.registry_client(region)
    pushed = push_image(client, repository, canary_labels, tag=version)
    console.print(f"pushed canary {stack.login_server(region)}/{repository}@{pushed.digest}")
    artifact = ArtifactRef(
        kind="image", registry=stack.login_server(region), repository=repository,
        digest=pushed.digest,
    )  # fmt: skip
    final = follow(stack, region, artifact, wait)
    _explain(final)
    links = _show_review_links(stack, region, artifact, wait)
    _approve_and_deploy(stack, region, artifact, links, max(wait, 90.0))


def _signer(stack: LocalStack, client: object, repository: str) -> Callable[[str], None]:
    """Signs the digest before the image manifest is pushed, so intake finds the signature.

    Debian's skopeo cannot sign (its sigstore support is patched out; see
    ``shared.local.signing``), so this is Clearance's small cosign-format signer.
    """
    from shared.local.signing import sign_image

    key = stack.signing_keys()["local-ci"]

    def sign(digest: str) -> None:
        sign_image(client, repository, digest, key, repository)
        console.print(f"signed {digest} with {key.key_id} (cosign tag scheme)")

    return sign


def model_registered(
    name: str = typer.Argument(..., help="the registered model's name"),
    version: str = typer.Argument(..., help="the registered model's version"),
    region: str = typer.Option("westeurope"),
    tags_file: Path = typer.Option(REPO / "examples" / "aml-tags.env"),
    casing: str = typer.Option("pascal", help="pascal (ModelName, numeric version) or camel"),
    schema: str = typer.Option("eventgrid", help="eventgrid or cloudevents"),
    root: Path | None = typer.Option(None),
    wait: float = typer.Option(30.0),
    as_person: str = typer.Option(
        SAMPLE_OWNER, "--as", help="the sample person Azure ML records as the registrant"
    ),
) -> None:
    """Post a ModelRegistered event, as Azure ML and Event Grid would, to a cell."""
    from shared.local.events import deliver
    from shared.local.events import model_registered as build_event

    stack = _stack(root)
    tags = read_labels_file(tags_file)
    if as_person not in SAMPLE_PEOPLE:
        raise typer.BadParameter(f"not a sample person: {as_person}", param_hint="--as")
    stack.record_registrant(region, name, version, as_person)
    try:
        event = build_event(region, name, version, tags, casing=casing, schema=schema)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    status = deliver(stack.host_url(region), "aml_model_registered", [event])
    console.print(f"Event Grid delivery answered {status}")
    artifact = ArtifactRef(kind="aml_model", workspace=f"mlw-{region}", model=name, version=version)
    _explain(follow(stack, region, artifact, wait))


def review_links(stack: LocalStack, approval_id: str) -> dict[str, str]:
    """Each sample approver's personal review link, read from the mail they received."""
    import re

    from shared.local.smtp_sink import read_mails

    pattern = re.compile(rf"http://\S+/api/approvals/{approval_id}/review\?t=[\w.-]+")
    links: dict[str, str] = {}
    for mail in read_mails(stack.maildir):
        body = mail.get_body(("plain",))
        found = pattern.findall(body.get_content()) if body is not None else []
        if found:
            links[str(mail["To"])] = found[0]
    return links


_DEPLOY_DONE = frozenset(
    {
        RecordKind.DEPLOYMENT_SUCCEEDED,
        RecordKind.DEPLOYMENT_FAILED,
        RecordKind.DEPLOYMENT_ROLLED_BACK,
    }
)


def _approve_and_deploy(
    stack: LocalStack,
    region: str,
    artifact: ArtifactRef,
    links: dict[str, str],
    wait: float,
    stage: str | None = None,
) -> None:
    """What the two sample approvers would do in their browsers: open the link, click Approve."""
    import re
    import urllib.parse
    import urllib.request

    for who, link in sorted(links.items()):
        with urllib.request.urlopen(link, timeout=30) as page:  # noqa: S310 - local host
            html = page.read().decode()
        fields = dict(re.findall(r"name='(t|csrf)' value='([^']+)'", html))
        if len(fields) != 2:
            console.print(f"{who}: the request is no longer open")
            continue
        form = urllib.parse.urlencode({**fields, "decision": "approve"}).encode()
        action = link.split("?", 1)[0]
        request = urllib.request.Request(action, data=form, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - local host
            console.print(f"{who} approved (HTTP {answer.status})")
    final = follow(stack, region, artifact, wait, until=_DEPLOY_DONE, stage=stage)
    _show_commit(stack, region, final)


def _show_commit(stack: LocalStack, region: str, final: LineageRecord) -> None:
    commit = final.where.get("gitops_commit")
    if commit:
        log = subprocess.run(
            ["git", "--git-dir", str(stack.gitops_repo(region)), "show", "--stat", commit],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        console.print(f"GitOps repository {stack.gitops_repo(region)}:\n{log}")


def _walk_stages(
    stack: LocalStack, region: str, artifact: ArtifactRef, approve: bool, wait: float
) -> None:
    """A staged region: ``staging`` needs no human approval, so the version deploys there at
    once, bakes, and promotes itself; ``prod`` asks the two sample approvers."""
    from shared.domain.approval.record import approval_id_for
    from shared.local.stack import LOCAL_STAGING_BAKE_MINUTES, LOCAL_TIME_SCALE
    from shared.services.approval.stages import stage_approval_id

    bake = LOCAL_STAGING_BAKE_MINUTES * 60 * LOCAL_TIME_SCALE
    console.print(
        f"staging needs no human approval: deploying there, then {bake:.0f}s of bake time "
        f"({LOCAL_STAGING_BAKE_MINUTES} min in Azure time) before it promotes itself to prod"
    )
    staged = follow(stack, region, artifact, max(wait, 60.0), until=_DEPLOY_DONE)
    if staged.kind is not RecordKind.DEPLOYMENT_SUCCEEDED:
        console.print(f"[red]staging ended {staged.kind}[/red]")
        raise typer.Exit(1)
    _show_commit(stack, region, staged)
    prod = stage_approval_id(approval_id_for(artifact, region), "prod")
    links = _show_review_links(stack, region, artifact, max(wait, 60.0), approval_id=prod)
    if approve and links:
        _approve_and_deploy(stack, region, artifact, links, max(wait, 60.0), stage="prod")


def _show_review_links(
    stack: LocalStack,
    region: str,
    artifact: ArtifactRef,
    wait: float,
    approval_id: str | None = None,
) -> dict[str, str]:
    from shared.domain.approval.record import approval_id_for

    approval_id = approval_id or approval_id_for(artifact, region)
    deadline = time.monotonic() + wait
    links: dict[str, str] = {}
    while time.monotonic() < deadline and len(links) < 2:
        links = review_links(stack, approval_id)
        time.sleep(0.3)
    if not links:
        console.print("no approval mail yet (the request may be decided or superseded)")
        return links
    console.print(f"approval request {approval_id}; personal review links from the mails:")
    for who, link in sorted(links.items()):
        print(f"  {who}: {link}")
    console.print(f"Teams cards: http://127.0.0.1:{stack.ports.teams}/messages")
    return links


def _explain(final: LineageRecord) -> None:
    if final.kind is RecordKind.APPROVAL_REQUESTED:
        console.print("[green]accepted:[/green] an approval request is on approval-requests")
    elif final.kind is RecordKind.ARTIFACT_REJECTED:
        console.print("[red]rejected[/red]; the owner was mailed (see .local/mail)")
        raise typer.Exit(1)
    else:
        console.print(f"{final.kind}: {', '.join(f'{k}={v}' for k, v in final.details.items())}")
