"""Version order: which of two model versions is higher, and names that are not versions.

Versions are compared as semantic versions (``MAJOR.MINOR.PATCH``, fewer or more numeric parts
allowed, an optional leading ``v``, a ``-pre.release`` below its release, ``+build`` ignored);
Azure ML's integer versions are one-part versions. Two versions that are not both of that form
have no order: callers then keep arrival order. Moving names (``latest``, ``stable``, ...) are
never versions: a version is immutable, a moving name points at whatever was pushed last.
"""

from __future__ import annotations

import re
from typing import Literal

MOVING_NAMES = frozenset(
    {
        "latest",
        "stable",
        "current",
        "main",
        "master",
        "trunk",
        "head",
        "dev",
        "develop",
        "edge",
        "nightly",
        "next",
        "snapshot",
        "release",
        "prod",
        "production",
        "staging",
        "canary",
        "beta",
        "alpha",
        "preview",
        "test",
        "lts",
    }
)
_SEMVER = re.compile(
    r"^[vV]?(?P<numbers>[0-9]{1,9}(?:\.[0-9]{1,9}){0,3})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?P<build>\+[0-9A-Za-z.-]+)?$"
)
VersionIntent = Literal["rollback", "hotfix"]

# (release numbers padded to 4 parts, 1 for a release / 0 for a pre-release, pre-release parts)
_Key = tuple[tuple[int, ...], int, tuple[tuple[int, int | str], ...]]


def is_moving(version: str) -> bool:
    return version.strip().lower() in MOVING_NAMES


def order_key(version: str) -> _Key | None:
    match = _SEMVER.match(version)
    if match is None:
        return None
    numbers = tuple(int(n) for n in match["numbers"].split("."))
    numbers = numbers + (0,) * (4 - len(numbers))
    pre = match["pre"]
    if pre is None:
        return numbers, 1, ()
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return numbers, 0, parts


def canonical(version: str) -> str:
    """The one spelling of a version that has an order (``v1.02.0.0`` is ``1.2.0``), so that
    spellings of one version are one version; build metadata is kept (it names a build).
    A version without an order is its own spelling."""
    key, match = order_key(version), _SEMVER.match(version)
    if key is None or match is None:
        return version
    numbers, _, pre = key
    shown = list(numbers[:3]) + ([numbers[3]] if numbers[3] else [])
    text = ".".join(str(n) for n in shown)
    if pre:
        text += "-" + ".".join(str(p) for _, p in pre)
    return text + (match["build"] or "")


def compare(a: str, b: str) -> int | None:
    """-1, 0 or 1 as ``a`` is lower, equal or higher than ``b``; None when there is no order."""
    ka, kb = order_key(a), order_key(b)
    if ka is None or kb is None:
        return None
    return (ka > kb) - (ka < kb)


def is_lower(a: str, b: str) -> bool:
    return compare(a, b) == -1
