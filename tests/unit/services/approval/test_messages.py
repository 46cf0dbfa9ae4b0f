"""Label values cannot inject markup, links or headers into cards, pages and mails."""

from __future__ import annotations

import re

from shared.adapters.mail.smtp import build_message
from shared.ports.mail import OutboundMail
from shared.services.approval.messages import card_text
from shared.services.approval.review_page import problem
from shared.services.owner_mail import header_safe

HOSTILE = "[click](https://evil.example) **bold** <b>x</b>\n# heading\r\nBcc: victim@x.example"


def test_card_text_has_no_live_markdown_or_links() -> None:
    text = card_text(HOSTILE)
    assert "\n" not in text
    assert re.search(r"(?<!\\)\[", text) is None
    assert re.search(r"(?<!\\)\]\(", text) is None
    assert "https://" not in text
    assert re.search(r"(?<!\\)\*\*", text) is None


def test_header_values_are_one_bounded_line() -> None:
    subject = header_safe(HOSTILE)
    assert "\n" not in subject and "\r" not in subject
    assert len(header_safe("x" * 1000)) <= 120
    raw = build_message(
        OutboundMail(("a@x.example",), subject, "t", "<p>h</p>"), "clearance@x.example"
    )
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers


def test_pages_escape_html() -> None:
    page = problem("<script>t</script>", "<img src=x onerror=alert(1)>")
    assert "<script>" not in page
    assert "<img" not in page


def test_card_text_shows_ordinary_values_without_stray_backslashes() -> None:
    for value in ("fraud-detector", "1.4.2", "approver.one@contoso.example", "EU", "2026-12-02"):
        assert card_text(value) == value
    assert card_text("1. not a list") == "1\\. not a list"
    assert card_text("- not a list") == "\\- not a list"
