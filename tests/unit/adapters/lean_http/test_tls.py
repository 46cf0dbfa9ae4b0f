"""TLS: the server's certificate is verified against the CA the transport is given (SNI sent),
a certificate from another CA or for another name is refused before anything is sent."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.rest import HttpRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.adapters.lean_http import LeanTransport
from tests.unit.adapters.lean_http.servers import echo, serving


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_ca(folder: Path, label: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"test CA {label}"))
        .issuer_name(_name(f"test CA {label}"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    path = folder / f"ca-{label}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def server_context(
    folder: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, names: list[str]
) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = folder / f"server-{names[0]}.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    return context


def test_a_certificate_from_the_given_ca_is_verified_and_reused(tmp_path: Path) -> None:
    ca_file, ca_key, ca = make_ca(tmp_path, "good")
    context = server_context(tmp_path, ca_key, ca, ["127.0.0.1"])
    transport = LeanTransport(connection_verify=str(ca_file))
    with serving(echo, tls=context) as server:
        for _ in range(3):
            got = transport.send(HttpRequest("PUT", f"{server.url}/t", content=b"x"))
            assert got.text() == "PUT /t x"
        assert server.connections == 1


def test_sni_carries_the_host_name(tmp_path: Path) -> None:
    ca_file, ca_key, ca = make_ca(tmp_path, "good")
    names: list[str] = []
    context = server_context(tmp_path, ca_key, ca, ["localhost"])
    context.sni_callback = lambda sock, name, ctx: names.append(name or "")  # type: ignore[assignment,misc]
    with serving(echo, tls=context) as server:
        url = f"https://localhost:{server.port}/"
        assert LeanTransport(connection_verify=str(ca_file)).send(HttpRequest("GET", url))
    assert names == ["localhost"]


def test_a_certificate_from_another_ca_is_refused_before_sending(tmp_path: Path) -> None:
    other_ca, _, _ = make_ca(tmp_path, "other")
    _, ca_key, ca = make_ca(tmp_path, "good")
    context = server_context(tmp_path, ca_key, ca, ["127.0.0.1"])

    with serving(echo, tls=context) as server:
        with pytest.raises(ServiceRequestError) as caught:
            LeanTransport(connection_verify=str(other_ca)).send(
                HttpRequest("POST", f"{server.url}/t", content=b"secret")
            )
        assert server.seen == []
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    ca_file, ca_key, ca = make_ca(tmp_path, "good")
    context = server_context(tmp_path, ca_key, ca, ["storage.example"])
    with serving(echo, tls=context) as server, pytest.raises(ServiceRequestError):
        LeanTransport(connection_verify=str(ca_file)).send(HttpRequest("GET", f"{server.url}/"))


def test_the_default_is_verification_and_false_only_when_asked(tmp_path: Path) -> None:
    _, ca_key, ca = make_ca(tmp_path, "private")
    context = server_context(tmp_path, ca_key, ca, ["127.0.0.1"])
    with serving(echo, tls=context) as server:
        with pytest.raises(ServiceRequestError):  # certifi does not know this CA
            LeanTransport().send(HttpRequest("GET", f"{server.url}/"))
        unverified = LeanTransport(connection_verify=False)
        assert unverified.send(HttpRequest("GET", f"{server.url}/")).status_code == 200
        # a connection made without verification is never reused for a verified request
        with pytest.raises(ServiceRequestError):
            unverified.send(HttpRequest("GET", f"{server.url}/"), connection_verify=True)
