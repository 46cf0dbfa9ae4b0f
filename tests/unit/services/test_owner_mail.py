"""Rejection mails cannot be used as a relay: allow-listed owners only, codes not free text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.domain.intake.codes import IntakeCode
from shared.domain.lineage.record import ArtifactRef, Reason
from shared.local.samples import model_labels
from shared.local.stack import LocalStack, StackPorts
from shared.services.intake.handlers import IntakeDeps, handle_image_pushed
from shared.services.owner_mail import MAX_QUOTED_KEY, rejection_mail
from shared.settings import load_catalog
from tests.support.fakes import FakeBus, FakeLedger, FakeLineage, FakeMailer, FakeRegistry
from tests.unit.services.intake.test_handlers import pushed

REPO = Path(__file__).resolve().parents[3]
SPAM = "Your account is suspended, log in at https://evil.example/now to keep it"


@pytest.fixture
def deps(tmp_path: Path) -> IntakeDeps:
    catalog = load_catalog(json.dumps(LocalStack(tmp_path, REPO, ports=StackPorts()).catalog()))
    return IntakeDeps(
        region="westeurope",
        catalog=catalog,
        registry=FakeRegistry(),
        ledger=FakeLedger(),
        lineage=FakeLineage(),
        bus=FakeBus(),
        mailer=FakeMailer(),
        platform_email="platform@contoso.example",
    )


def _reject(deps: IntakeDeps, owner: str, **extra: str) -> list[str]:
    labels = model_labels(owner=owner, extra={"ai.clearance.description": SPAM, **extra})
    labels["ai.clearance.risk-tier"] = SPAM[:60]  # an invalid value the owner chose
    digest = deps.registry.add_image(labels)  # type: ignore[attr-defined]
    handle_image_pushed(pushed(deps, digest), deps)
    return [to for mail in deps.mailer.sent for to in mail.to]  # type: ignore[attr-defined]


def test_an_owner_outside_the_allow_list_is_never_mailed(deps: IntakeDeps) -> None:
    assert _reject(deps, "victim@elsewhere.example") == ["platform@contoso.example"]


def test_an_allow_listed_owner_is_mailed(deps: IntakeDeps) -> None:
    assert _reject(deps, "Ada+ml@Contoso.Example") == ["Ada+ml@contoso.example"]


def test_a_look_alike_domain_is_not_on_the_allow_list(deps: IntakeDeps) -> None:
    assert _reject(deps, "ada@contoso.example.evil.example") == ["platform@contoso.example"]


def test_the_rejection_quotes_codes_and_bounded_keys_never_label_values(deps: IntakeDeps) -> None:
    _reject(deps, "ada@contoso.example", **{"ai.clearance." + "x" * 200: "y"})
    (mail,) = deps.mailer.sent  # type: ignore[attr-defined]

    for part in (mail.text, mail.html, mail.subject):
        assert "evil.example" not in part
        assert "suspended" not in part
    assert IntakeCode.META_INVALID.value in mail.text
    assert "x" * (MAX_QUOTED_KEY + 1) not in mail.text


def test_hundreds_of_reasons_are_summarised() -> None:
    reasons = tuple(
        Reason(code=IntakeCode.META_UNKNOWN_KEY.value, message=SPAM, field=f"k{i}")
        for i in range(256)
    )
    mail = rejection_mail(
        "ada@contoso.example",
        ArtifactRef(kind="unknown", repository="r" * 255),
        reasons,
        region="westeurope",
        owner_known=True,
    )

    assert mail.text.count("CLR-META-UNKNOWN-KEY") == 20
    assert "and 236 more" in mail.text
    assert SPAM not in mail.text
    assert len(mail.text) < 5000
