"""Kubernetes resource quantities: the strict subset of the syntax that the contract accepts.

CPU: whole or decimal cores with at most three decimals (``2``, ``0.5``) or millicores (``500m``).
Memory: bytes with a binary (``Ki``, ``Mi``, ``Gi``, ``Ti``) or decimal (``k``, ``M``, ``G``,
``T``) suffix, or plain bytes. Memory in ``m`` (millibytes) is legal in Kubernetes but almost
always a mistake for ``Mi``, so it is refused. Every accepted quantity is comparable.
"""

from __future__ import annotations

import re
from decimal import Decimal

CPU_PATTERN = r"^(?:[1-9][0-9]{0,6}m|[0-9]{1,4}(?:\.[0-9]{1,3})?)$"
MEMORY_PATTERN = r"^[1-9][0-9]{0,12}(?:[KMGT]i|[kMGT])?$"

_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_MEMORY = re.compile(r"([0-9]+)([A-Za-z]*)")


def cpu_millicores(quantity: str) -> Decimal:
    """Millicores of a quantity that matches ``CPU_PATTERN``."""
    if quantity.endswith("m"):
        return Decimal(quantity[:-1])
    return Decimal(quantity) * 1000


def memory_bytes(quantity: str) -> int:
    """Bytes of a quantity that matches ``MEMORY_PATTERN``."""
    match = _MEMORY.fullmatch(quantity)
    if match is None or match.group(2) not in _MEMORY_FACTORS:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(match.group(1)) * _MEMORY_FACTORS[match.group(2)]
