"""Signed links: tamper, expiry, key rotation, CSRF binding, constant-time comparison."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.approval.links import LinkError, LinkProblem, LinkSigner

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
KEY1, KEY2 = b"k" * 32, b"n" * 32


def test_round_trip_names_the_approver() -> None:
    signer = LinkSigner({"k1": KEY1})
    token = signer.sign("apr-1", "a@x.example", NOW + timedelta(hours=1))
    claims = signer.verify(token, "apr-1", NOW)
    assert (claims.approval_id, claims.approver, claims.key_id) == ("apr-1", "a@x.example", "k1")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "x" + t,
        lambda t: t.replace(".", ""),
        lambda t: "",
        lambda t: t + "." + t,
        lambda t: "a" * 5000,
    ],
)
def test_tampered_tokens_are_refused(mutate: object) -> None:
    signer = LinkSigner({"k1": KEY1})
    token = signer.sign("apr-1", "a@x.example", NOW + timedelta(hours=1))
    with pytest.raises(LinkError) as err:
        signer.verify(mutate(token), "apr-1", NOW)  # type: ignore[operator]
    assert err.value.problem in {LinkProblem.MALFORMED, LinkProblem.BAD_SIGNATURE}


def test_expired_and_wrong_request_and_unknown_key() -> None:
    signer = LinkSigner({"k1": KEY1})
    token = signer.sign("apr-1", "a@x.example", NOW)
    with pytest.raises(LinkError, match="expired"):
        signer.verify(token, "apr-1", NOW)
    token = signer.sign("apr-1", "a@x.example", NOW + timedelta(hours=1))
    with pytest.raises(LinkError, match="wrong_approval"):
        signer.verify(token, "apr-2", NOW)
    with pytest.raises(LinkError, match="unknown_key"):
        LinkSigner({"k9": KEY2}).verify(token, "apr-1", NOW)


def test_rotation_newest_signs_all_verify() -> None:
    old = LinkSigner({"k20260101": KEY1})
    token = old.sign("apr-1", "a@x.example", NOW + timedelta(hours=1))
    rotated = LinkSigner({"k20260101": KEY1, "k20261121": KEY2})
    assert rotated.current_key_id == "k20261121"
    assert rotated.verify(token, "apr-1", NOW).key_id == "k20260101"
    assert rotated.verify(rotated.sign("apr-1", "a", NOW + timedelta(hours=1)), "apr-1", NOW)


def test_csrf_is_bound_to_the_link() -> None:
    signer = LinkSigner({"k1": KEY1})
    a = signer.sign("apr-1", "a@x.example", NOW + timedelta(hours=1))
    b = signer.sign("apr-1", "b@x.example", NOW + timedelta(hours=1))
    assert signer.check_csrf(a, signer.csrf_token(a))
    assert not signer.check_csrf(a, signer.csrf_token(b))
    assert not signer.check_csrf(a, "")


def test_secrets_are_compared_in_constant_time() -> None:
    source = (Path(__file__).resolve().parents[4] / "shared/domain/approval/links.py").read_text()
    tree = ast.parse(source)
    compares = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare) and any(isinstance(o, ast.Eq | ast.NotEq) for o in n.ops)
    ]
    mac_compares = [
        ast.unparse(c)
        for c in compares
        if "mac" in ast.unparse(c).lower()
        or "csrf" in ast.unparse(c).lower()
        or "given" in ast.unparse(c)
    ]
    assert mac_compares == []
    assert source.count("hmac.compare_digest") >= 3


def _flip_last_bits(part: str) -> str:
    """The same bytes, another spelling: unused trailing bits set (base64 ignores them)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return part[:-1] + alphabet[alphabet.index(part[-1]) | 1]


@pytest.mark.parametrize(
    "respell",
    [
        lambda p, s: f"{p}.{s}=",  # padding
        lambda p, s: f"{p}=.{s}",
        lambda p, s: f"{p}.{s}!!",  # ignored junk
        lambda p, s: f"{p}.{s.replace('-', '+').replace('_', '/')}",  # standard alphabet
        lambda p, s: f"{p.replace('-', '+').replace('_', '/')}.{s}",
        lambda p, s: f"{p}.{_flip_last_bits(s)}",  # non-zero trailing bits
        lambda p, s: f"{p}.{s[:4]}\n{s[4:]}",
    ],
)
def test_only_the_canonical_spelling_of_a_token_verifies(respell: object) -> None:
    signer = LinkSigner({"k1": KEY1})
    # Find a token whose parts contain characters the variants change.
    for i in range(5000):
        token = signer.sign(
            f"apr-{i}", f"{'~' * (i % 5)}a?{i}>@x.example", NOW + timedelta(hours=1)
        )
        payload, signature = token.split(".")
        both = all(any(c in part for c in "-_") for part in (payload, signature))
        if both and len(signature) % 4 != 0:
            break
    variant = respell(payload, signature)  # type: ignore[operator]
    assert variant != token
    with pytest.raises(LinkError) as err:
        signer.verify(variant, f"apr-{i}", NOW)
    assert err.value.problem is LinkProblem.MALFORMED
