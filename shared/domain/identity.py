"""Canonical identities: the one form every separation-of-duties comparison uses. Pure.

An address, a registry user name or a sign-in name becomes its canonical identity by:
Unicode NFKC (fullwidth and other compatibility forms fold to their plain letters), case folding,
trimming, folding the Cyrillic and Greek letters that look like Latin ones onto those Latin
letters, and removing the sub-address (``+tag``) where the catalog says the domain delivers
sub-addressed mail to the same mailbox. Two identities are the same person for Clearance when
their canonical forms are equal; look-alikes therefore collide, which is the safe side for
separation of duties (the look-alike cannot approve). At intake an owner address that mixes
scripts or uses compatibility forms is refused outright (``identity_problem``).

Mails still go to the address as given; the canonical form is for comparison and the record.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Domain = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")]

# Letters of other scripts that render like a Latin letter in common fonts (Unicode TR39
# confusables, restricted to Cyrillic and Greek lower case after case folding).
_CONFUSABLE = str.maketrans(
    {
        # Cyrillic (and Armenian seh)
        "\u0430": "a",  # cyrillic small letter a
        "\u0432": "b",  # cyrillic small letter ve
        "\u0441": "c",  # cyrillic small letter es
        "\u0501": "d",  # cyrillic small letter komi de
        "\u0435": "e",  # cyrillic small letter ie
        "\u04bb": "h",  # cyrillic small letter shha
        "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
        "\u0458": "j",  # cyrillic small letter je
        "\u043a": "k",  # cyrillic small letter ka
        "\u04cf": "l",  # cyrillic small letter palochka
        "\u043c": "m",  # cyrillic small letter em
        "\u043d": "h",  # cyrillic small letter en
        "\u043e": "o",  # cyrillic small letter o
        "\u0440": "p",  # cyrillic small letter er
        "\u051b": "q",  # cyrillic small letter qa
        "\u0455": "s",  # cyrillic small letter dze
        "\u0442": "t",  # cyrillic small letter te
        "\u057d": "u",  # armenian small letter seh
        "\u0475": "v",  # cyrillic small letter izhitsa
        "\u051d": "w",  # cyrillic small letter we
        "\u0445": "x",  # cyrillic small letter ha
        "\u0443": "y",  # cyrillic small letter u
        "\u04af": "y",  # cyrillic small letter straight u
        # Greek
        "\u03b1": "a",  # greek small letter alpha
        "\u03b2": "b",  # greek small letter beta
        "\u03b5": "e",  # greek small letter epsilon
        "\u03b7": "n",  # greek small letter eta
        "\u03b9": "i",  # greek small letter iota
        "\u03ba": "k",  # greek small letter kappa
        "\u03bd": "v",  # greek small letter nu
        "\u03bf": "o",  # greek small letter omicron
        "\u03c1": "p",  # greek small letter rho
        "\u03c4": "t",  # greek small letter tau
        "\u03c5": "u",  # greek small letter upsilon
        "\u03c7": "x",  # greek small letter chi
        "\u03b3": "y",  # greek small letter gamma
        "\u03f2": "c",  # greek lunate sigma symbol
        "\u03f3": "j",  # greek letter yot
    }
)


class IdentityRules(BaseModel):
    """How the organisation's mail domains treat addresses (catalog ``identity``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Domains whose mail server delivers ``local+tag@domain`` to ``local@domain``, with the
    # separator characters each uses. A domain not listed uses ``default_subaddress``.
    subaddress: dict[Domain, Annotated[str, Field(max_length=4)]] = Field(default_factory=dict)
    default_subaddress: Annotated[str, Field(max_length=4)] = "+"
    # The domains owner addresses may be in to receive mail from Clearance. A rejection or
    # decision for an owner outside these goes to the platform address only (no relay).
    owner_domains: tuple[Domain, ...] = ()

    def separators(self, domain: str) -> str:
        return self.subaddress.get(domain, self.default_subaddress)

    def owner_domain_allowed(self, address: str) -> bool:
        domain = canonical_identity(address, self).rpartition("@")[2]
        return bool(domain) and domain in self.owner_domains


DEFAULT_RULES = IdentityRules()


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip().translate(_CONFUSABLE)


def canonical_identity(raw: str, rules: IdentityRules = DEFAULT_RULES) -> str:
    """The identity ``raw`` names, in the one form comparisons use. Idempotent."""
    folded = unicodedata.normalize("NFKC", _fold(raw))
    local, at, domain = folded.rpartition("@")
    if not at:
        return folded
    domain = domain.rstrip(".")
    for separator in rules.separators(domain):
        local = local.split(separator, 1)[0]
    return f"{local}@{domain}"


def same_identity(a: str | None, b: str | None, rules: IdentityRules = DEFAULT_RULES) -> bool:
    if not a or not b:
        return False
    return canonical_identity(a, rules) == canonical_identity(b, rules)


class IdentityProblem(StrEnum):
    COMPATIBILITY_FORM = "compatibility_form"
    MIXED_SCRIPT = "mixed_script"


def _script(ch: str) -> str | None:
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def scripts_of(text: str) -> frozenset[str]:
    """The scripts of the letters in ``text`` (first word of each letter's Unicode name)."""
    return frozenset(s for s in map(_script, text) if s is not None)


def identity_problem(raw: str) -> tuple[IdentityProblem, str] | None:
    """Why ``raw`` cannot be trusted as an identity (with a human explanation), or None.

    Refused: compatibility forms that NFKC changes (fullwidth letters, ligatures,
    superscripts),
    and addresses whose letters come from more than one script (Latin with a Cyrillic o).
    """
    for index, ch in enumerate(raw):
        if unicodedata.normalize("NFKC", ch) != ch:
            return (
                IdentityProblem.COMPATIBILITY_FORM,
                f"the character U+{ord(ch):04X} at position {index + 1} is a compatibility form "
                f"of {unicodedata.normalize('NFKC', ch)!r}; write the plain character",
            )
    scripts = scripts_of(raw)
    if len(scripts) > 1:
        odd = sorted(scripts - {"LATIN"}) or sorted(scripts)
        index = next(i for i, ch in enumerate(raw) if _script(ch) in set(odd))
        return (
            IdentityProblem.MIXED_SCRIPT,
            f"it mixes letters of the scripts {', '.join(sorted(scripts))} (U+{ord(raw[index]):04X}"
            f" at position {index + 1}); an address must use one script",
        )
    return None
