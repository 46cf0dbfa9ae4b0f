"""Kubernetes names and label values derived from metadata, made valid and kept distinct.

A value that is already valid is kept as it is. Anything else is rewritten to the allowed
characters and suffixed with a short hash of the original, so two different inputs never end up
with the same name (``1.0+a`` and ``1.0_a`` stay apart). Pure and deterministic.
"""

from __future__ import annotations

import hashlib
import re

DNS_LABEL_MAX = 63
LABEL_VALUE_MAX = 63

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def is_dns_label(text: str, max_length: int = DNS_LABEL_MAX) -> bool:
    return len(text) <= max_length and _DNS_LABEL.match(text) is not None


def is_label_value(text: str) -> bool:
    return len(text) <= LABEL_VALUE_MAX and _LABEL_VALUE.match(text) is not None


def dns_label(*parts: str, max_length: int = DNS_LABEL_MAX) -> str:
    """An RFC 1035 label (starts with a letter) from ``parts`` joined by '-'."""
    raw = "-".join(parts)
    if is_dns_label(raw, max_length):
        return raw
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw.lower())).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"x-{cleaned}".rstrip("-")
    suffix = short_hash(raw)
    head = cleaned[: max_length - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def label_value(text: str) -> str:
    """A valid label value (at most 63 characters of ``[A-Za-z0-9._-]``, alphanumeric ends)."""
    if is_label_value(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    suffix = short_hash(text)
    head = cleaned[: LABEL_VALUE_MAX - len(suffix) - 1]
    head = re.sub(r"^[^A-Za-z0-9]+", "", head)
    return f"{head}-{suffix}" if head else suffix


def digest_label(digest: str) -> str:
    """``sha256:<hex>`` as a label value: algorithm and the first 128 bits of the hex."""
    algorithm, _, hex_part = digest.partition(":")
    return label_value(f"{algorithm}-{hex_part[:32]}")
