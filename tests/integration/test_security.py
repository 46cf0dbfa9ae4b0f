"""Security checks on the running stack: secrets stay out of logs, no redirects, no traversal."""

from __future__ import annotations

import re

import pytest

from shared.composition import Container
from shared.domain.errors import InputError
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels
from shared.local.stack import REGIONS, SAMPLE_APPROVERS, LocalStack
from tests.integration.approval_flow import LINK, Flow, form_of, http, post_url

pytestmark = pytest.mark.stack
ONE, _ = SAMPLE_APPROVERS


def test_secrets_and_tokens_never_reach_the_logs(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "no-leaks", "1.0.0")
    flow.wait_open()
    link = flow.link_for(ONE)
    token = link.split("t=", 1)[1]
    _, page, _ = http("GET", link)
    csrf = form_of(page)["csrf"]
    http("POST", post_url(flow), {**form_of(page), "decision": "approve"})
    secrets = [token, token.split(".")[1], csrf]
    secrets += list(hosts.state.link_keys.values())
    secrets += list(hosts.state.account_keys.values())
    logs = "".join(
        hosts.processes.log_path(f"host-{r}").read_text(errors="replace") for r in REGIONS
    )
    assert "approval" in logs.lower() or "event" in logs.lower()  # the logs are not empty
    leaked = [s[:8] + "..." for s in secrets if s and s in logs]
    assert leaked == []
    assert not LINK.search(logs)


def test_review_page_has_no_redirects(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "no-redirect", "1.0.0")
    flow.wait_open()
    link = flow.link_for(ONE)
    for extra in (
        "&next=https://evil.example",
        "&redirect_uri=//evil.example",
        "&returnUrl=https%3A%2F%2Fevil.example",
    ):
        status, page, headers = http("GET", link + extra)
        assert status == 200
        assert "Location" not in headers
        assert "evil.example" not in page
    assert not re.search(r"<meta[^>]+refresh", page, re.IGNORECASE)


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "x;rm -rf", "A" * 64, "model\nname"])
def test_model_names_cannot_carry_paths_or_commands(name: str) -> None:
    labels = model_labels(name)
    with pytest.raises(InputError) as err:
        parse_metadata(labels, kind=ArtifactKind.IMAGE)
    assert {v.field for v in err.value.violations} == {"ai.clearance.model.name"}
