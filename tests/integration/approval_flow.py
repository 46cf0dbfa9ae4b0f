"""Helpers to walk a pushed model through approvals on the local stack (tests only)."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.storage.approvals import TableApprovalStore
from shared.composition import Container
from shared.domain.approval.links import LinkSigner
from shared.domain.approval.record import approval_id_for
from shared.domain.lineage.record import ArtifactRef, RecordKind
from shared.local.images import push_image
from shared.local.samples import model_labels
from shared.local.signing import sign_image
from shared.local.smtp_sink import read_mails
from shared.local.stack import SAMPLE_APPROVERS, LocalStack
from tests.conftest import wait_for

ONE, TWO = SAMPLE_APPROVERS
LINK = re.compile(r"http://127\.0\.0\.1:\d+/api/approvals/[\w-]+/review\?t=[\w.-]+")


def labels(name: str, version: str, **extra: str) -> dict[str, str]:
    return model_labels(name, version, risk_tier="medium", extra=extra)


class Flow:
    """One pushed model walking through approvals on the westeurope cell."""

    def __init__(
        self,
        stack: LocalStack,
        cell: Container,
        name: str,
        version: str,
        *,
        pushed_as: str | None = None,
        **extra: str,
    ) -> None:
        self.stack, self.cell = stack, cell
        client = stack.registry_client("westeurope", pushed_as)
        repository = f"models/{name}"
        sign = None
        if extra.get("ai.clearance.risk-tier") == "critical":
            # the local catalog requires critical models to be signed by the CI key, as a
            # pipeline signs before it pushes the manifest
            key = stack.signing_keys()["local-ci"]
            sign = lambda digest: sign_image(client, repository, digest, key)  # noqa: E731
        self.pushed = push_image(
            client, repository, labels(name, version, **extra), tag=version, before_manifest=sign
        )
        self.artifact = ArtifactRef(
            kind="image",
            registry=stack.login_server("westeurope"),
            repository=f"models/{name}",
            digest=self.pushed.digest,
            tag=version,
        )
        self.approval_id = approval_id_for(
            self.artifact.model_copy(update={"tag": None}), "westeurope"
        )
        self.store = TableApprovalStore(cell.table_service)
        self.signer = LinkSigner({k: v.encode() for k, v in stack.state.link_keys.items()})

    def approval(self) -> Any:
        return self.store.get(self.approval_id)[0]

    def wait_open(self) -> Any:
        return wait_for(lambda: self._exists() and self.approval(), timeout=30)

    def _exists(self) -> bool:
        from shared.domain.errors import TerminalError

        try:
            self.store.get(self.approval_id)
        except TerminalError:
            return False
        return True

    def link_for(self, approver: str) -> str:
        def find() -> list[str]:
            found = []
            for mail in read_mails(self.stack.maildir):
                if mail["To"] != approver:
                    continue
                text = mail.get_body(("plain",)).get_content()
                found += [u for u in LINK.findall(text) if self.approval_id in u]
            return found

        return str(wait_for(find, timeout=30)[0])

    def token(self, approver: str, expires_at: datetime | None = None) -> str:
        return self.signer.sign(
            self.approval_id, approver, expires_at or datetime.now(UTC) + timedelta(hours=1)
        )

    def review_url(self, token: str) -> str:
        return (
            f"{self.stack.host_url('westeurope')}/api/approvals/{self.approval_id}/review?t={token}"
        )

    def records(self, kind: RecordKind) -> list[Any]:
        return [
            r
            for r in self.cell.lineage.list_for(
                self.artifact.model_copy(update={"tag": None}).key_hash
            )  # type: ignore[attr-defined]
            if r.kind is kind
        ]


def http(
    method: str, url: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def sign_in(stack: LocalStack, person: str, region: str = "westeurope") -> dict[str, str]:
    """Sign in on the local host's Easy Auth page as ``person``; the session cookie header."""
    import http.client

    port = stack.ports.host[region]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"/.auth/login/local?as={urllib.parse.quote(person)}")
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 302, answer.status
        cookie = str(answer.getheader("Set-Cookie")).split(";", 1)[0]
    finally:
        conn.close()
    return {"Cookie": cookie}


def csrf_of(page: str) -> str:
    csrf = re.search(r"name='csrf' value='([^']+)'", page)
    assert csrf is not None, page
    return csrf.group(1)


def form_of(page: str) -> dict[str, str]:
    """The hidden fields of the page's approve form, as a browser would post them."""
    t = re.search(r"name='t' value='([^']+)'", page)
    csrf = re.search(r"name='csrf' value='([^']+)'", page)
    assert t is not None and csrf is not None
    return {"t": t.group(1), "csrf": csrf.group(1)}


def post_url(flow: Flow) -> str:
    return f"{flow.stack.host_url('westeurope')}/api/approvals/{flow.approval_id}/review"


def deployments(flow: Flow) -> list[Any]:
    """The deployments the cell ran for this approval (its deployer consumed the request)."""
    return list(wait_for(lambda: flow.records(RecordKind.DEPLOYMENT_SUCCEEDED), timeout=60))


def vote(flow: Flow, approver: str, decision: str = "approve", **fields: str) -> tuple[int, str]:
    status, page, _ = http("GET", flow.link_for(approver))
    assert status == 200, page
    form = {**form_of(page), "decision": decision, **fields}
    status, page, _ = http("POST", post_url(flow), form)
    return status, page
