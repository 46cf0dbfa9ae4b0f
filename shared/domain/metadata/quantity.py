"""Kubernetes resource quantities: the strict subset of the syntax that the contract accepts.

CPU: whole or decimal cores with at most three decimals (``2``, ``0.5``) or millicores (``500m``).
Memory: whole or decimal bytes (``1.5Gi``, as Kubernetes accepts, rounded up to whole bytes)
with a binary (``Ki`` .. ``Ei``) or decimal (``k`` .. ``E``) suffix, or plain bytes. Memory in
``m`` (millibytes) is legal in Kubernetes but almost always a mistake for ``Mi``, so it is
refused, as is the exponent form (``129e6``) nobody writes by hand. Every accepted quantity is
comparable.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

CPU_PATTERN = r"^(?:[1-9][0-9]{0,6}m|[0-9]{1,4}(?:\.[0-9]{1,3})?)$"
MEMORY_PATTERN = r"^[0-9]{1,13}(?:\.[0-9]{1,9})?(?:[KMGTPE]i|[kMGTPE])?$"

_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_MEMORY = re.compile(r"([0-9]{1,13}(?:\.[0-9]{1,9})?)([A-Za-z]*)")


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
    exact = Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(2)]
    return int(exact.to_integral_value(rounding=ROUND_CEILING))
