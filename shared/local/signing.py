"""Local signing: a cosign-format key pair for the local stack, and a small cosign-compatible
signer used because Debian's skopeo cannot sign.

Checked on Debian's skopeo 1.9.3: ``skopeo copy --sign-by-sigstore-private-key KEY
--sign-passphrase-file F`` with ``use-sigstore-attachments: true`` copies the image, prints
"Signing manifest using a sigstore signature" and exits with
``creating signature: Debian-local change: sigstore disabled`` (Debian patches sigstore
signing out; the key is not even read). So ``sign_with_skopeo`` is tried first and
``sign_image`` does what cosign does, with ``cryptography``: a simple-signing payload naming
the digest, ECDSA P-256/SHA-256 over it, pushed as the layer of a manifest tagged
``sha256-<hex>.sig`` with the signature in the ``dev.cosignproject.cosign/signature``
annotation. ``attest_image`` pushes an in-toto statement in a DSSE envelope as ``.att``.

The private key is written in cosign's encrypted format ("ENCRYPTED SIGSTORE PRIVATE KEY":
JSON with scrypt N=32768,r=8,p=1 and nacl/secretbox over the PKCS#8 DER key), so the same
file works with cosign or a skopeo built with sigstore.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
SCRYPT = {"N": 32768, "r": 8, "p": 1}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private_key: Path  # cosign encrypted format
    public_key: Path  # PEM SubjectPublicKeyInfo
    passphrase_file: Path

    @property
    def public_pem(self) -> str:
        return self.public_key.read_text()


def _scrypt(passphrase: bytes, salt: bytes) -> bytes:
    return hashlib.scrypt(
        passphrase,
        salt=salt,
        n=SCRYPT["N"],
        r=SCRYPT["r"],
        p=SCRYPT["p"],
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )


def encrypt_cosign_key(key: ec.EllipticCurvePrivateKey, passphrase: bytes) -> str:
    import nacl.secret

    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt, nonce = os.urandom(32), os.urandom(24)
    sealed = nacl.secret.SecretBox(_scrypt(passphrase, salt)).encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": SCRYPT, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = base64.encodebytes(json.dumps(doc).encode()).decode()
    return f"-----BEGIN {PEM_TYPE}-----\n{body}-----END {PEM_TYPE}-----\n"


def decrypt_cosign_key(pem: str, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    import nacl.secret

    lines = pem.strip().splitlines()
    if not lines or lines[0] not in (
        f"-----BEGIN {PEM_TYPE}-----",
        "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----",
    ):
        raise ValueError("not a cosign encrypted private key")
    doc = json.loads(base64.b64decode("".join(lines[1:-1])))
    if doc["kdf"]["name"] != "scrypt" or doc["cipher"]["name"] != "nacl/secretbox":
        raise ValueError("unsupported cosign key encryption")
    params = doc["kdf"]["params"]
    key = hashlib.scrypt(
        passphrase,
        salt=base64.b64decode(doc["kdf"]["salt"]),
        n=params["N"],
        r=params["r"],
        p=params["p"],
        maxmem=128 * 1024 * 1024,
        dklen=32,
    )
    der = nacl.secret.SecretBox(key).decrypt(
        base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"])
    )
    private = serialization.load_der_private_key(der, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ValueError("the cosign key is not an ECDSA key")
    return private


def ensure_signing_key(directory: Path, key_id: str) -> SigningKey:
    """Create (once) a cosign-format key pair in ``directory`` (kept outside registry data,
    under .local/, never committed)."""
    directory.mkdir(parents=True, exist_ok=True)
    signing = SigningKey(
        key_id,
        directory / f"{key_id}.key",
        directory / f"{key_id}.pub",
        directory / f"{key_id}.pass",
    )
    if signing.private_key.exists() and signing.public_key.exists():
        return signing
    passphrase = base64.urlsafe_b64encode(os.urandom(18))
    key = ec.generate_private_key(ec.SECP256R1())
    signing.passphrase_file.write_bytes(passphrase)
    signing.passphrase_file.chmod(0o600)
    signing.private_key.write_text(encrypt_cosign_key(key, passphrase))
    signing.private_key.chmod(0o600)
    signing.public_key.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return signing


def _private(signing: SigningKey) -> ec.EllipticCurvePrivateKey:
    return decrypt_cosign_key(
        signing.private_key.read_text(), signing.passphrase_file.read_bytes().strip()
    )


def _push_referrer(
    client: Any,
    repository: str,
    tag: str,
    layer: bytes,
    media_type: str,
    annotations: dict[str, str],
) -> str:
    layer_digest, layer_size = client.upload_blob(repository, io.BytesIO(layer))
    config = json.dumps(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [str(layer_digest)]},
        }
    ).encode()
    config_digest, config_size = client.upload_blob(repository, io.BytesIO(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": str(config_digest),
            "size": int(config_size),
        },
        "layers": [
            {
                "mediaType": media_type,
                "digest": str(layer_digest),
                "size": int(layer_size),
                "annotations": annotations,
            }
        ],
    }
    body = json.dumps(manifest).encode()
    return str(client.set_manifest(repository, io.BytesIO(body), tag=tag, media_type=OCI_MANIFEST))


def simple_signing_payload(reference: str, digest: str) -> bytes:
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        },
        separators=(",", ":"),
    ).encode()


def sign_image(
    client: Any, repository: str, digest: str, signing: SigningKey, reference: str = ""
) -> str:
    """Sign ``repository@digest`` as cosign does (tag scheme); returns the signature manifest."""
    payload = simple_signing_payload(reference or repository, digest)
    signature = _private(signing).sign(payload, ec.ECDSA(hashes.SHA256()))
    tag = f"sha256-{digest.removeprefix('sha256:')}.sig"
    annotation = {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()}
    return _push_referrer(client, repository, tag, payload, SIMPLE_SIGNING, annotation)


def attest_image(
    client: Any,
    repository: str,
    digest: str,
    signing: SigningKey,
    predicate_type: str,
    predicate: dict[str, Any],
) -> str:
    """Attach a signed in-toto statement about ``digest`` (cosign's ``.att`` tag scheme)."""
    statement = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "subject": [{"name": repository, "digest": {"sha256": digest.removeprefix("sha256:")}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    ).encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(IN_TOTO), IN_TOTO.encode(), len(statement), statement)
    sig = _private(signing).sign(pae, ec.ECDSA(hashes.SHA256()))
    envelope = json.dumps(
        {
            "payloadType": IN_TOTO,
            "payload": base64.b64encode(statement).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}],
        }
    ).encode()
    tag = f"sha256-{digest.removeprefix('sha256:')}.att"
    return _push_referrer(
        client, repository, tag, envelope, DSSE, {"predicateType": predicate_type}
    )


def sign_with_skopeo(
    login_server: str,
    repository: str,
    digest: str,
    signing: SigningKey,
    tag: str,
    ca_file: Path,
    workdir: Path,
    credentials: tuple[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``skopeo copy`` the image onto itself with a sigstore signature (cosign attachments).

    Returns skopeo's result; Debian's build fails with "sigstore disabled" (see above).
    """
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise FileNotFoundError("skopeo is not installed (scripts/bootstrap installs it)")
    certs, registries_d = workdir / "certs", workdir / "registries.d"
    certs.mkdir(parents=True, exist_ok=True)
    registries_d.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca_file, certs / "ca.crt")
    (registries_d / "default.yaml").write_text(
        "default-docker:\n  use-sigstore-attachments: true\n"
    )
    command = [skopeo, "--registries.d", str(registries_d), "copy"]
    for side in ("src", "dest"):
        command += [f"--{side}-cert-dir", str(certs)]
        if credentials:
            command += [f"--{side}-creds", f"{credentials[0]}:{credentials[1]}"]
    command += [
        "--sign-by-sigstore-private-key", str(signing.private_key),
        "--sign-passphrase-file", str(signing.passphrase_file),
        f"docker://{login_server}/{repository}@{digest}",
        f"docker://{login_server}/{repository}:{tag}",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
