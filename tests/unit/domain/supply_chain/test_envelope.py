"""Parsing what signers store, as an attacker would write it."""

from __future__ import annotations

import base64
import json

import pytest

from shared.domain.supply_chain.envelope import (
    Envelope,
    EnvelopeError,
    check_simple_signing,
    highest_severity,
    parse_dsse,
    summarize_statement,
)

DIGEST = "sha256:" + "ab" * 32


def payload(digest: str = DIGEST, kind: str = "cosign container image signature") -> bytes:
    return json.dumps(
        {"critical": {"identity": {"docker-reference": "r"}, "image": {
            "docker-manifest-digest": digest}, "type": kind}}
    ).encode()  # fmt: skip


def test_simple_signing_names_the_digest() -> None:
    assert check_simple_signing(payload(), DIGEST) == "r"


@pytest.mark.parametrize(
    "data",
    [
        payload("sha256:" + "cd" * 32),
        payload(DIGEST.upper()),
        payload(kind="something else"),
        b"[]",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,  # nesting bomb
        json.dumps({"critical": "x"}).encode(),
    ],
)
def test_simple_signing_refuses_everything_else(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        check_simple_signing(data, DIGEST)


def test_dsse_pae_is_the_spec_encoding() -> None:
    env = Envelope("application/vnd.in-toto+json", b"hello", (b"s",))
    assert env.pae() == b"DSSEv1 28 application/vnd.in-toto+json 5 hello"


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"payloadType": "x", "payload": "not base64!", "signatures": [{"sig": "AA=="}]},
        {"payloadType": "x", "payload": "AA==", "signatures": []},
        {"payloadType": "x" * 300, "payload": "AA==", "signatures": [{"sig": "AA=="}]},
        {"payloadType": "x", "payload": "AA==", "signatures": ["AA=="]},
    ],
)
def test_malformed_envelopes(doc: dict[str, object]) -> None:
    with pytest.raises(EnvelopeError):
        parse_dsse(json.dumps(doc).encode())


def statement(subject_digest: str, predicate_type: str, predicate: object) -> Envelope:
    body = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"sha256": subject_digest}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return Envelope("application/vnd.in-toto+json", json.dumps(body).encode(), (b"s",))


def test_statement_about_another_digest_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="not about"):
        summarize_statement(statement("cd" * 32, "https://slsa.dev/provenance/v1", {}), DIGEST)


def test_slsa_v02_and_v1_builder_ids() -> None:
    v02 = statement("ab" * 32, "https://slsa.dev/provenance/v0.2", {"builder": {"id": "b02"}})
    v1 = statement(
        "ab" * 32, "https://slsa.dev/provenance/v1", {"runDetails": {"builder": {"id": "b1"}}}
    )
    assert summarize_statement(v02, DIGEST).builder_id == "b02"
    assert summarize_statement(v1, DIGEST).builder_id == "b1"


def test_cyclonedx_component_count() -> None:
    env = statement("ab" * 32, "https://cyclonedx.org/bom", {"components": [{}, {}, {}]})
    assert summarize_statement(env, DIGEST).sbom_packages == 3


def test_severity_walk_is_bounded() -> None:
    wide = {"results": [{"severity": "CRITICAL"}] + [{"severity": "LOW"}] * 50_000}
    assert highest_severity(wide) == "CRITICAL"
    # never a reassuring figure from a report it could not read whole
    assert highest_severity(wide, max_nodes=1000) == "INCOMPLETE"
    assert highest_severity({"a": [{"Severity": "high"}, {"severity": "bogus"}]}) == "HIGH"
    assert highest_severity({}) is None


def test_base64_padding_trickery() -> None:
    doc = {"payloadType": "x", "payload": base64.b64encode(b"p").decode() + "\n",
           "signatures": [{"sig": "AA=="}]}  # fmt: skip
    with pytest.raises(EnvelopeError):
        parse_dsse(json.dumps(doc).encode())
