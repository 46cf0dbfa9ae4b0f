"""Turn image labels / AML tags into ``ModelMetadata``, or refuse them with every reason at once.

Values are data: they are length- and character-checked, converted by their declared shape and
validated; nothing is ever parsed as YAML, JSON or HTML. Keys outside ``ai.clearance.`` that the
contract does not use are ignored (base images carry their own labels). An empty value counts as
absent, so a Dockerfile can clear a label inherited from its base image.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.domain.errors import InputError, Violation
from shared.domain.identity import IdentityProblem, identity_problem
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.keys import (
    BY_KEY,
    LABEL_KEYS,
    NAME,
    PREFIX,
    STRATEGY,
    VERSION,
    LabelKey,
)
from shared.domain.metadata.model import ArtifactKind, ModelMetadata
from shared.domain.metadata.rollout import STRATEGY_NAMES
from shared.domain.metadata.value_rules import (
    CONTRACT_ERROR_TYPE,
    first_control_character,
    printable,
)
from shared.domain.metadata.versions import is_moving

MAX_LABELS = 256
MAX_KEY_LENGTH = 256
MAX_VALUE_LENGTH = 1024
_SHOWN_LENGTH = 60
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
OWNER_KEY = "ai.clearance.owner"
_KIND_NAMES = {ArtifactKind.IMAGE: "container images", ArtifactKind.AML_MODEL: "Azure ML models"}


def parse_metadata(
    labels: Mapping[str, str],
    *,
    kind: ArtifactKind,
    name: str | None = None,
    version: str | None = None,
) -> ModelMetadata:
    """Validate ``labels`` against the contract. Raises ``InputError`` with every violation.

    ``name`` and ``version`` are the registration's (an AML model's name and version): they win,
    and a tag that disagrees with them is a conflict.
    """
    noun = "tag" if kind is ArtifactKind.AML_MODEL else "label"
    if len(labels) > MAX_LABELS:
        raise InputError(
            [
                Violation(
                    IntakeCode.META_TOO_MANY,
                    f"The artifact carries {len(labels)} {noun}s; Clearance reads at most "
                    f"{MAX_LABELS}.",
                )
            ]
        )
    values, violations = _screen(labels, noun)
    for spec, registered in ((NAME, name), (VERSION, version)):
        violations += _apply_registration(values, spec, registered or None, noun)
    raw, problems = _assemble(values, kind, noun)
    violations += problems
    try:
        metadata = ModelMetadata.model_validate(raw)
    except ValidationError as exc:
        # A conflicting tag's key still carries the registration's value into the contract.
        reported = {v.field for v in violations if v.code != IntakeCode.META_CONFLICT}
        violations += _explain_all(exc.errors(), kind, values, reported, noun)
        raise InputError(violations) from None
    if violations:
        raise InputError(violations)
    return metadata


def _screen(labels: Mapping[str, str], noun: str) -> tuple[dict[LabelKey, str], list[Violation]]:
    """Keep the non-empty values of known keys that pass the global limits."""
    values: dict[LabelKey, str] = {}
    violations: list[Violation] = []
    for key, value in labels.items():
        if len(key) > MAX_KEY_LENGTH:
            violations.append(
                Violation(
                    IntakeCode.META_TOO_LONG,
                    f"A {noun} key is {len(key)} characters long; keys are limited to "
                    f"{MAX_KEY_LENGTH} characters.",
                    printable(key, _SHOWN_LENGTH),
                )
            )
            continue
        spec = BY_KEY.get(key)
        if spec is None:
            if key.lower().startswith(PREFIX):
                violations.append(_unknown_key(key, noun))
            continue
        if value == "":
            continue
        problem = _value_problem(spec, value)
        if problem is not None:
            violations.append(problem)
            continue
        values[spec] = value
    return values, violations


def _unknown_key(key: str, noun: str) -> Violation:
    message = f"Clearance does not know the {noun} {printable(key, _SHOWN_LENGTH)}."
    close = difflib.get_close_matches(key.lower(), BY_KEY, n=1, cutoff=0.8)
    if close:
        message += f" Did you mean {close[0]}?"
    return Violation(IntakeCode.META_UNKNOWN_KEY, message, printable(key, MAX_KEY_LENGTH))


def _value_problem(spec: LabelKey, value: str) -> Violation | None:
    if spec is VERSION and is_moving(value):
        return Violation(
            IntakeCode.META_MOVING_VERSION,
            f"The {spec.title} {printable(value, _SHOWN_LENGTH)} is a moving name, not a "
            "version: versions are immutable, so give this build a version such as 1.4.0 "
            "(tag it latest as well if you like; the version label must be the version).",
            spec.key,
        )
    if len(value) > MAX_VALUE_LENGTH:
        return Violation(
            IntakeCode.META_TOO_LONG,
            f"The {spec.title} is {len(value)} characters long; values are limited to "
            f"{MAX_VALUE_LENGTH} characters.",
            spec.key,
        )
    index = first_control_character(value)
    if index is not None:
        return Violation(
            IntakeCode.META_CONTROL_CHAR,
            f"The {spec.title} contains the character U+{ord(value[index]):04X} at position "
            f"{index + 1}; values must be single-line plain text without control or "
            "invisible characters.",
            spec.key,
        )
    if spec.key == OWNER_KEY:
        return _identity_violation(spec, value)
    return None


def _identity_violation(spec: LabelKey, value: str) -> Violation | None:
    found = identity_problem(value)
    if found is None:
        return None
    problem, why = found
    code = (
        IntakeCode.META_MIXED_SCRIPT
        if problem is IdentityProblem.MIXED_SCRIPT
        else IntakeCode.META_CONFUSABLE
    )
    return Violation(code, f"The {spec.title} is refused: {why}.", spec.key)


def _apply_registration(
    values: dict[LabelKey, str],
    spec: LabelKey,
    registered: str | None,
    noun: str,
) -> list[Violation]:
    """Put the registration's name/version in ``values``; report a tag that disagrees with it."""
    if registered is None:
        return []
    problem = _value_problem(spec, registered)
    if problem is not None:
        values.pop(spec, None)
        return [problem]
    declared = values.get(spec)
    values[spec] = registered
    if declared is None or declared == registered:
        return []
    return [
        Violation(
            IntakeCode.META_CONFLICT,
            f"The {noun} {spec.key} says {_shown(declared)}, but the model is registered with "
            f"{spec.title} {_shown(registered)}; remove the {noun} or make it match.",
            spec.key,
        )
    ]


def _assemble(
    values: dict[LabelKey, str], kind: ArtifactKind, noun: str
) -> tuple[dict[str, Any], list[Violation]]:
    """Build the ``ModelMetadata`` input from the values that apply to this artifact."""
    raw: dict[str, Any] = {"rollout": {}, "serving": {"kind": kind.value}}
    if kind is ArtifactKind.IMAGE:
        raw["serving"]["resources"] = {}
    strategy = values.get(STRATEGY)
    violations: list[Violation] = []
    for spec, value in values.items():
        if kind not in spec.kinds:
            violations.append(
                Violation(
                    IntakeCode.META_NOT_APPLICABLE,
                    f"The {spec.title} applies to {_KIND_NAMES[next(iter(spec.kinds))]} only; "
                    f"remove the {noun} {spec.key}.",
                    spec.key,
                )
            )
            continue
        if spec.strategy is not None and spec.strategy != strategy:
            if strategy in STRATEGY_NAMES:
                violations.append(
                    Violation(
                        IntakeCode.META_NOT_APPLICABLE,
                        f"The {spec.title} applies to the {spec.strategy} strategy only, but the "
                        f"rollout strategy is {strategy}; remove the {noun} {spec.key}.",
                        spec.key,
                    )
                )
            continue
        converted = _convert(spec, value)
        if converted is None:
            violations.append(_invalid(spec, spec.expected, value))
            continue
        target = raw
        for part in spec.path[:-1]:
            target = target.setdefault(part, {})
        target[spec.path[-1]] = converted
    return raw, violations


def _convert(spec: LabelKey, value: str) -> object | None:
    """The value in its declared shape, or None when it does not have that shape."""
    if spec.shape == "text":
        return value
    if spec.shape == "list":
        return [item.strip() for item in value.split(",")]
    if spec.shape == "pod-budget":
        return int(value) if _WHOLE_NUMBER.fullmatch(value) else value
    if spec.shape == "integer":
        return int(value) if _WHOLE_NUMBER.fullmatch(value) else None
    items = [item.strip() for item in value.split(",")]  # "integer-list"
    if all(_WHOLE_NUMBER.fullmatch(item) for item in items):
        return [int(item) for item in items]
    return None


def _explain_all(
    errors: list[ErrorDetails],
    kind: ArtifactKind,
    values: dict[LabelKey, str],
    already_reported: set[str | None],
    noun: str,
) -> list[Violation]:
    """One violation per label key, in the words of the contract rather than pydantic's."""
    violations: list[Violation] = []
    reported = set(already_reported)
    for error in errors:
        spec = _spec_at(error["loc"], kind)
        if spec is None:  # the parser builds every nested object, so this is a contract bug
            violations.append(Violation(IntakeCode.META_INVALID, printable(error["msg"], 200)))
            continue
        if spec.key in reported:
            continue
        reported.add(spec.key)
        violations.append(_explain(error, spec, values.get(spec, ""), kind, noun))
    return violations


def _spec_at(loc: tuple[int | str, ...], kind: ArtifactKind) -> LabelKey | None:
    candidates = [
        spec
        for spec in LABEL_KEYS
        if kind in spec.kinds and loc[: len(spec.error_loc)] == spec.error_loc
    ]
    return max(candidates, key=lambda spec: len(spec.error_loc), default=None)


def _explain(
    error: ErrorDetails, spec: LabelKey, value: str, kind: ArtifactKind, noun: str
) -> Violation:
    if error["type"] in ("missing", "union_tag_not_found"):
        scope = f" for {_KIND_NAMES[kind]}" if len(spec.kinds) == 1 else ""
        if spec.strategy is not None:
            scope = f" for the {spec.strategy} strategy"
        return Violation(
            IntakeCode.META_MISSING,
            f"The {spec.title} is required{scope}; add the {noun} {spec.key}, "
            f"for example {spec.key}={spec.example}.",
            spec.key,
        )
    if error["type"] == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return Violation(
            IntakeCode.META_TOO_LONG,
            f"The {spec.title} is {len(value)} characters long; it is limited to {limit}.",
            spec.key,
        )
    if error["type"] == CONTRACT_ERROR_TYPE:
        return _invalid(spec, (error.get("ctx") or {})["reason"], value)
    return _invalid(spec, spec.expected, value)


def _invalid(spec: LabelKey, reason: str, value: str) -> Violation:
    return Violation(
        IntakeCode.META_INVALID, f"The {spec.title} {reason}; got {_shown(value)}.", spec.key
    )


def _shown(value: str) -> str:
    return f'"{printable(value, _SHOWN_LENGTH)}"'
