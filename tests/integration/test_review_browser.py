"""A real browser (Debian's headless Chromium, driven by Playwright) approves from the email link.

Set CLEARANCE_UPDATE_SCREENSHOTS=1 to refresh docs/images/review-page.png from this test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.composition import Container
from shared.domain.approval.record import ApprovalState
from shared.local.stack import SAMPLE_APPROVERS, LocalStack
from tests.integration.approval_flow import Flow

pytestmark = pytest.mark.stack
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ONE, TWO = SAMPLE_APPROVERS
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/bootstrap")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def approve_in_browser(browser: Any, link: str, screenshot: Path | None = None) -> str:
    page = browser.new_page(viewport={"width": 420, "height": 1100})  # a phone-sized screen
    page.goto(link)
    assert page.locator("h1").inner_text().startswith("Review browser-demo")
    assert page.get_by_text("Validation: passed").is_visible()
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.fill("#comment", "Checked the canary plan.")
    page.click("#approve")
    page.wait_for_selector("#confirmation")
    text = str(page.locator("body").inner_text())
    page.close()
    return text


def test_two_approvers_approve_from_their_emailed_links(
    hosts: LocalStack, cell: Container, browser: Any, tmp_path: Path
) -> None:
    flow = Flow(
        hosts,
        cell,
        "browser-demo",
        "2.3.0",
        **{"org.opencontainers.image.description": "Ranks support tickets by urgency"},
    )
    flow.wait_open()
    shot = tmp_path / "review-page.png"
    first = approve_in_browser(browser, flow.link_for(ONE), shot)
    assert "your vote was recorded" in first
    assert "waits for more approvals" in first
    assert shot.stat().st_size > 10_000
    if os.environ.get("CLEARANCE_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, REPO / "docs" / "images" / "review-page.png")
    assert flow.approval().state is ApprovalState.PENDING
    second = approve_in_browser(browser, flow.link_for(TWO))
    assert "now approved" in second
    assert flow.approval().state is ApprovalState.APPROVED


def test_a_group_member_signs_in_and_approves_from_the_teams_button(
    hosts: LocalStack, cell: Container, browser: Any
) -> None:
    """Group-only policy: no link token; the (local) Easy Auth sign-in decides eligibility."""
    import json

    from shared.local.teams_sink import read_posts
    from tests.conftest import wait_for

    flow = Flow(hosts, cell, "browser-group", "1.0.0", **{"ai.clearance.risk-tier": "critical"})
    flow.wait_open()
    posts = wait_for(
        lambda: [p for p in read_posts(hosts.teams_store) if flow.approval_id in json.dumps(p)]
    )
    button = posts[0]["body"]["attachments"][0]["content"]["actions"][0]["url"]
    context = browser.new_context(viewport={"width": 420, "height": 1100})
    page = context.new_page()
    try:
        page.goto(button)
        assert "Sign-in required" in page.locator("h1").inner_text()
        login = f"{hosts.host_url('westeurope')}/.auth/login/local?as={ONE}"
        page.goto(f"{login}&post_login_redirect_uri=/api/approvals/{flow.approval_id}/review")
        assert page.locator("h1").inner_text().startswith("Review browser-group")
        assert page.get_by_text("Votes so far").is_visible()
        page.click("#approve")
        page.wait_for_selector("#confirmation")
    finally:
        context.close()
    (vote,) = flow.store.votes(flow.approval_id)
    assert vote.approver == ONE
    assert vote.established_by == "easy_auth"
    assert vote.object_id is not None


RENDERER = REPO / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
RENDER = """(payload) => {
  const card = new AdaptiveCards.AdaptiveCard();
  const context = new AdaptiveCards.SerializationContext();
  card.parse(payload, context);
  const parse = [];
  for (let i = 0; i < context.eventCount; i++) parse.push(context.getEventAt(i).message);
  const validation = card.validateProperties().validationEvents.map((e) => e.message);
  const element = card.render();
  document.getElementById("card").appendChild(element);
  return {parse, validation, text: element.innerText};
}"""


def test_the_teams_card_parses_validates_and_renders_with_the_official_renderer(
    hosts: LocalStack, cell: Container, browser: Any, tmp_path: Path
) -> None:
    """The card as posted, through Microsoft's ``adaptivecards`` renderer: no parse or
    validation event, and the facts read as plain values (no stray backslashes)."""
    import json

    from shared.local.teams_sink import read_posts
    from tests.conftest import wait_for

    if not RENDERER.exists():
        pytest.fail("the adaptivecards renderer is not installed: run scripts/bootstrap (npm ci)")
    flow = Flow(
        hosts,
        cell,
        "card-demo",
        "2.0.0",
        pushed_as="approver.three@contoso.example",
        **{"org.opencontainers.image.description": "[click](https://evil.example) **now**"},
    )
    flow.wait_open()
    posts = wait_for(
        lambda: [p for p in read_posts(hosts.teams_store) if flow.approval_id in json.dumps(p)]
    )
    card = posts[0]["body"]["attachments"][0]["content"]
    page = browser.new_page(viewport={"width": 480, "height": 900})
    try:
        page.set_content("<!doctype html><html><body><div id='card'></div></body></html>")
        page.add_script_tag(path=str(RENDERER))
        result = page.evaluate(RENDER, card)
        shot = tmp_path / "teams-card.png"
        page.locator("#card").screenshot(path=str(shot))
    finally:
        page.close()
    assert result["parse"] == []
    assert result["validation"] == []
    text = result["text"]
    assert "card-demo" in text and "2.0.0" in text
    assert "approver.three@contoso.example" in text  # who pushed
    assert "\\-" not in text and "\\." not in text  # ordinary values carry no backslashes
    assert "Review" in text
    assert shot.stat().st_size > 5_000
    if os.environ.get("CLEARANCE_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, REPO / "docs" / "images" / "teams-card.png")
