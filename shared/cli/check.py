"""``clearance check``: run the intake checks on a labels file before pushing or registering.

It calls the very ``parse_metadata`` and intake placement rules that the cells run, so a file
that passes here passes there (registry and workspace identity are checked at push time).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from shared.domain.catalog import RegionCatalog, describe_validation_error
from shared.domain.errors import InputError, Violation
from shared.domain.intake.policy import placement_violations
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind, ModelMetadata
from shared.domain.metadata.rollout import BlueGreen, Canary, Rolling
from shared.domain.metadata.value_rules import printable

_BOM = "\ufeff"


class Kind(StrEnum):
    IMAGE = "image"
    AML_MODEL = "aml-model"


_ARTIFACT_KINDS = {Kind.IMAGE: ArtifactKind.IMAGE, Kind.AML_MODEL: ArtifactKind.AML_MODEL}


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    labels_file: Annotated[
        Path,
        typer.Argument(
            help="KEY=VALUE lines, one label or tag each; blank lines and # comments ignored; "
            "a BOM, 'export ' and quotes around a value are accepted (and reported).",
            metavar="LABELS_FILE",
            exists=True,
            dir_okay=False,
        ),
    ],
    kind: Annotated[Kind, typer.Option(help="What the labels describe.")] = Kind.IMAGE,
    region: Annotated[
        str | None,
        typer.Option(help="Region you will push/register in; needs --catalog."),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            help="Region catalog JSON (terraform output -json region_catalog); needs --region.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Azure ML registration name (aml-model only).")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Azure ML registration version (aml-model only).")
    ] = None,
) -> None:
    """Check labels (or AML tags) against the metadata contract and, optionally, intake rules."""
    if (region is None) != (catalog is None):
        raise typer.BadParameter("--region and --catalog go together", param_hint="--region")
    labels, notes = read_labels_with_notes(labels_file)
    for note in notes:
        typer.echo(f"note: {note}")
    region_catalog = _read_catalog(catalog) if catalog is not None else None
    if region_catalog is not None and region is not None and not region_catalog.has_region(region):
        raise typer.BadParameter(
            f"{printable(region, 80)} is not in the catalog "
            f"({', '.join(region_catalog.region_names)})",
            param_hint="--region",
        )
    try:
        metadata = parse_metadata(labels, kind=_ARTIFACT_KINDS[kind], name=name, version=version)
    except InputError as exc:
        _reject(labels_file, exc.violations)
    if region_catalog is not None and region is not None:
        violations = placement_violations(metadata, region, region_catalog)
        if violations:
            _reject(labels_file, violations)
    _accept(labels_file, metadata, region)


def read_labels_file(path: Path) -> dict[str, str]:
    return read_labels_with_notes(path)[0]


def read_labels_with_notes(path: Path) -> tuple[dict[str, str], list[str]]:
    """Parse KEY=VALUE lines; returns the labels and what was forgiven on the way.

    What people paste from shell scripts and ``.env`` files is accepted and said: a UTF-8
    byte-order mark, ``export KEY=value`` and a value in matching quotes (``KEY="a b"``, the
    quotes removed as a shell would; nothing inside is unescaped or expanded).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(
            f"{path.name} is not UTF-8 text", param_hint="LABELS_FILE"
        ) from exc
    notes: list[str] = []
    if text.startswith(_BOM):
        text = text.removeprefix(_BOM)
        notes.append(f"{path.name}: ignored the UTF-8 byte-order mark at the start")
    labels: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    # Only \n ends a line: other line breaks stay in the value, where the contract rejects them.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, separator, value = line.partition("=")
        key = key.strip()
        where = f"{path.name}:{number}"
        if key.startswith("export ") or key.startswith("export\t"):
            key = key[len("export") :].strip()
            notes.append(f"{where}: ignored 'export' before {printable(key, 80)}")
        if not separator or not key:
            raise typer.BadParameter(f"{where}: expected KEY=VALUE", param_hint="LABELS_FILE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            notes.append(f"{where}: removed the quotes around the value of {printable(key, 80)}")
        if key in first_seen:
            raise typer.BadParameter(
                f"{where}: {printable(key, 80)} is already set on line {first_seen[key]}",
                param_hint="LABELS_FILE",
            )
        first_seen[key] = number
        labels[key] = value
    return labels, notes


def _read_catalog(path: Path) -> RegionCatalog:
    try:
        return RegionCatalog.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        problems = "; ".join(describe_validation_error(exc))
        raise typer.BadParameter(
            f"invalid region catalog: {problems}", param_hint="--catalog"
        ) from exc


def _reject(labels_file: Path, violations: tuple[Violation, ...] | list[Violation]) -> NoReturn:
    count = len(violations)
    typer.echo(f"REJECTED {labels_file.name}: {count} problem{'s' if count > 1 else ''}")
    for violation in violations:
        typer.echo(f"  {violation}")
    raise typer.Exit(1)


def _accept(labels_file: Path, metadata: ModelMetadata, region: str | None) -> None:
    typer.echo(
        f"OK {labels_file.name}: {metadata.name} {metadata.version} ({metadata.kind}), "
        f"owner {metadata.owner}, risk tier {metadata.risk_tier}"
    )
    typer.echo(
        f"  regions {', '.join(metadata.regions)} (residency {metadata.residency}); "
        f"rollout {_describe_rollout(metadata)}"
    )
    if region is None:
        typer.echo("  residency and placement not checked: pass --region and --catalog")
    else:
        typer.echo(f"  residency and placement rules pass for {region}")


def _describe_rollout(metadata: ModelMetadata) -> str:
    rollout = metadata.rollout
    if isinstance(rollout, Rolling):
        surge = "default" if rollout.max_surge is None else rollout.max_surge
        unavailable = "default" if rollout.max_unavailable is None else rollout.max_unavailable
        return f"rolling (max surge {surge}, max unavailable {unavailable})"
    if isinstance(rollout, BlueGreen):
        return f"blue-green, previous version kept {rollout.keep_previous_minutes} min"
    if isinstance(rollout, Canary):
        steps = " -> ".join(f"{step}%" for step in rollout.steps)
        return f"canary {steps}, {rollout.bake_minutes} min per step"
    return f"shadow {rollout.mirror_percent}% of traffic for {rollout.duration_minutes} min"
