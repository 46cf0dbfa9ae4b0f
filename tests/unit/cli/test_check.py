"""`clearance check`: the owner's local run of the intake checks, through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shared.cli.check import register
from shared.domain.catalog import RegionCatalog

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def clearance() -> None:
        """Clearance."""

    register(app)
    return app


def _check(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), ["check", *map(str, args)])
    return result.exit_code, result.output


def _flat(output: str) -> str:
    """Error panels wrap and frame their text; compare words only."""
    return " ".join(output.replace("│", " ").split())


def _write(tmp_path: Path, labels: dict[str, str], name: str = "labels.env") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{k}={v}\n" for k, v in labels.items()), encoding="utf-8")
    return path


@pytest.fixture
def catalog_file(tmp_path: Path, catalog: RegionCatalog) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(catalog.model_dump_json(), encoding="utf-8")
    return path


def test_the_image_example_passes() -> None:
    code, output = _check(EXAMPLES / "labels.env")

    assert code == 0
    assert output.splitlines() == [
        "OK labels.env: fraud-detector 1.4.2 (image), owner ada@example.com, risk tier high",
        "  regions westeurope, swedencentral (residency EU); "
        "rollout canary 10% -> 50% -> 100%, 15 min per step",
        "  residency and placement not checked: pass --region and --catalog",
    ]


def test_the_aml_example_passes_with_its_registration(catalog_file: Path) -> None:
    code, output = _check(
        EXAMPLES / "aml-tags.env",
        "--kind=aml-model",
        "--name=churn-model",
        "--version=3",
        "--region=westeurope",
        f"--catalog={catalog_file}",
    )

    assert code == 0
    assert output.splitlines()[0] == (
        "OK aml-tags.env: churn-model 3 (aml_model), owner ada@example.com, risk tier medium"
    )
    assert output.splitlines()[-1] == "  residency and placement rules pass for westeurope"


def test_every_violation_is_printed_and_the_exit_code_is_1(
    tmp_path: Path, image_labels: dict[str, str]
) -> None:
    image_labels["ai.clearance.serving.port"] = "80"
    image_labels["ai.clearance.regoins"] = image_labels.pop("ai.clearance.regions")

    code, output = _check(_write(tmp_path, image_labels))

    assert code == 1
    assert output.splitlines() == [
        "REJECTED labels.env: 3 problems",
        "  CLR-META-UNKNOWN-KEY [ai.clearance.regoins]: Clearance does not know the label "
        "ai.clearance.regoins. Did you mean ai.clearance.regions?",
        "  CLR-META-MISSING [ai.clearance.regions]: The target region list is required; add the "
        "label ai.clearance.regions, for example ai.clearance.regions=westeurope,swedencentral.",
        "  CLR-META-INVALID [ai.clearance.serving.port]: The serving port must be a whole number "
        'from 1024 to 65535 (pods run as non-root); got "80".',
    ]


def test_intake_rules_run_for_the_given_region(
    tmp_path: Path, image_labels: dict[str, str], catalog_file: Path
) -> None:
    image_labels |= {"ai.clearance.regions": "swedencentral", "ai.clearance.residency": "SE"}
    labels = _write(tmp_path, image_labels)

    refused, output = _check(labels, "--region", "westeurope", "--catalog", catalog_file)
    accepted, _ = _check(labels, "--region", "swedencentral", "--catalog", catalog_file)

    assert refused == 1
    assert [line.split(" [")[0].strip() for line in output.splitlines()[1:]] == [
        "CLR-INTAKE-SOURCE-RESIDENCY",
        "CLR-INTAKE-SOURCE-NOT-TARGET",
    ]
    assert accepted == 0


def test_the_file_is_read_verbatim(tmp_path: Path, image_labels: dict[str, str]) -> None:
    path = tmp_path / "labels.env"
    lines = [f"{k}={v}" for k, v in image_labels.items()]
    lines[0] = "  # an indented comment"
    lines.append("org.opencontainers.image.description=a=b \u2028c")
    path.write_bytes("\r\n".join(["", *lines, ""]).encode("utf-8"))

    code, output = _check(path)

    assert code == 1
    assert output.splitlines()[1:] == [
        "  CLR-META-CONTROL-CHAR [org.opencontainers.image.description]: The description "
        "contains the character U+2028 at position 5; values must be single-line plain text "
        "without control or invisible characters.",
        "  CLR-META-MISSING [ai.clearance.model.name]: The model name is required; add the "
        "label ai.clearance.model.name, for example ai.clearance.model.name=fraud-detector.",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ai.clearance.owner=a@example.com\nno equals sign\n", "labels.env:2: expected KEY=VALUE"),
        ("=value\n", "labels.env:1: expected KEY=VALUE"),
        ("a=1\nb=2\na=3\n", "labels.env:3: a is already set on line 1"),
    ],
)
def test_an_unreadable_labels_file_is_a_usage_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "labels.env"
    path.write_text(content, encoding="utf-8")

    code, output = _check(path)

    assert code == 2
    assert message in _flat(output)


def test_a_labels_file_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "labels.env"
    path.write_bytes(b"ai.clearance.owner=\xff\n")

    code, output = _check(path)

    assert (code, "is not UTF-8 text" in _flat(output)) == (2, True)


def test_region_and_catalog_go_together(catalog_file: Path) -> None:
    code, output = _check(EXAMPLES / "labels.env", "--region", "westeurope")

    assert (code, "--region and --catalog go together" in _flat(output)) == (2, True)


def test_an_unknown_region_is_a_usage_error(catalog_file: Path) -> None:
    code, output = _check(EXAMPLES / "labels.env", "--region=mars", f"--catalog={catalog_file}")

    assert (code, "mars is not in the catalog" in _flat(output)) == (2, True)


def test_an_invalid_catalog_is_a_usage_error(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text('{"residency_zones": {}}', encoding="utf-8")

    code, output = _check(EXAMPLES / "labels.env", "--region=westeurope", f"--catalog={catalog}")

    assert (code, "invalid region catalog" in _flat(output)) == (2, True)


def test_a_bom_export_and_quotes_are_accepted_and_said(
    tmp_path: Path, image_labels: dict[str, str]
) -> None:
    keys = list(image_labels)
    lines = [f"{k}={v}" for k, v in image_labels.items()]
    lines[1] = f'{keys[1]}="{image_labels[keys[1]]}"'
    lines[2] = f"export {keys[2]}='{image_labels[keys[2]]}'"
    path = tmp_path / "labels.env"
    # the first key is the one a BOM used to swallow silently
    path.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))

    code, output = _check(path)

    assert code == 0, output
    assert "note: labels.env: ignored the UTF-8 byte-order mark at the start" in output
    assert f"note: labels.env:2: removed the quotes around the value of {keys[1]}" in output
    assert f"note: labels.env:3: ignored 'export' before {keys[2]}" in output
    assert f"note: labels.env:3: removed the quotes around the value of {keys[2]}" in output


def test_quotes_inside_a_value_or_unbalanced_are_kept_verbatim(tmp_path: Path) -> None:
    from shared.cli.check import read_labels_with_notes

    path = tmp_path / "labels.env"
    path.write_text('a="x" y\nb=\'z\nc=""\nd="it\'s"\n', encoding="utf-8")
    labels, notes = read_labels_with_notes(path)
    assert labels == {"a": '"x" y', "b": "'z", "c": "", "d": "it's"}
    assert len(notes) == 2


def test_the_command_in_the_rejection_mail_runs_as_written(
    tmp_path: Path, image_labels: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copy the command out of the mail, paste it in the directory holding labels.env."""
    import shlex

    from shared.cli.main import app
    from shared.domain.lineage.record import ArtifactRef, Reason
    from shared.services.owner_mail import rejection_mail

    for artifact in (
        ArtifactRef(kind="image", registry="r", repository="models/x", digest="sha256:" + "a" * 64),
        ArtifactRef(kind="aml_model", workspace="w", model="fraud-detector", version="3"),
    ):
        mail = rejection_mail(
            "o@x.example", artifact, (Reason(code="C", message="m"),), region="r", owner_known=True
        )
        (line,) = [ln for ln in mail.text.splitlines() if "clearance check" in ln]
        command = shlex.split(line.split(": ", 1)[1])
        assert command[0] == "clearance" and f"<code>{line.split(': ', 1)[1]}</code>" in mail.html
        monkeypatch.chdir(tmp_path)
        _write(tmp_path, image_labels, command[-1])
        result = CliRunner().invoke(app, command[1:])
        assert result.exit_code in (0, 1), result.output  # a verdict, never a usage error (2)
        assert "REJECTED" in result.output or "OK" in result.output
