"""The auditor's tools on real storage: the CLI and each cell's API give the same answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from typer.testing import CliRunner

from functions import lineage_api, lineage_heads
from shared.cli import lineage as cli
from shared.composition import Container
from shared.domain.lineage.export import read_csv, read_json
from shared.domain.lineage.record import Reason, RecordKind
from shared.local.stack import REGIONS, LocalStack
from tests.integration.lineage_support import deployed, new_image, record, story, writer

pytestmark = pytest.mark.stack

START = datetime.fromisoformat("2026-05-10T08:00:00+00:00")  # a day no other test writes
UID = uuid.uuid4().hex[:8]
MODEL = f"audit-{UID}"
APPROVER = f"auditor-{UID}@contoso.example"
Cells = Callable[[str], Container]


@pytest.fixture(scope="module")
def seeded(cell_container: Cells) -> dict[str, Any]:
    """Two versions in westeurope (v2 rolled back), one in swedencentral, a rejection."""
    west, sweden = writer(cell_container("westeurope")), writer(cell_container("swedencentral"))
    v1 = new_image("westeurope", MODEL, "1.0.0")
    v2 = new_image("westeurope", MODEL, "2.0.0")
    se = new_image("swedencentral", MODEL, "1.0.0")
    bad = new_image("westeurope", MODEL, "3.0.0")
    for r in story(v1, "westeurope", START) + story(v2, "westeurope", START + timedelta(hours=2)):
        west.append(r)
    west.append(
        deployed(v2, "westeurope", START + timedelta(hours=5), RecordKind.DEPLOYMENT_ROLLED_BACK)
    )
    west.append(
        record(
            bad,
            RecordKind.ARTIFACT_REJECTED,
            "westeurope",
            START + timedelta(hours=6),
            reasons=(Reason(code="CLR-LABEL-MISSING", message="owner label missing"),),
        )
    )
    for r in story(se, "swedencentral", START + timedelta(hours=1)):
        sweden.append(r)
    sweden.append(
        record(
            se,
            RecordKind.APPROVAL_VOTE,
            "swedencentral",
            START + timedelta(hours=7),
            actor=APPROVER,
            established_by="easy_auth",
            details={"decision": "approve"},
        )
    )
    return {"v1": v1, "v2": v2, "se": se, "bad": bad}


def cli_json(stack: LocalStack, *args: str) -> Any:
    result = CliRunner().invoke(cli.app, [*args, "--format", "json", "--root", str(stack.root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def api(
    monkeypatch: pytest.MonkeyPatch,
    cell: Container,
    view: str,
    key: str | None = None,
    **params: str,
) -> tuple[int, str, dict[str, str]]:
    monkeypatch.setattr(lineage_api, "get_container", lambda: cell)
    handler = lineage_api.lineage_api.build().get_user_function()
    route = {"view": view, **({"key": key} if key else {})}
    response = handler(
        func.HttpRequest(
            method="GET",
            url=f"http://127.0.0.1/api/lineage/{view}{f'/{key}' if key else ''}",
            route_params=route,
            params=params,
            body=b"",
        )
    )
    return response.status_code, response.get_body().decode(), dict(response.headers)


def api_all(
    monkeypatch: pytest.MonkeyPatch, cells: Cells, view: str, limit: int = 3, **params: str
) -> tuple[list[Any], int]:
    """Every item from every region's cell, page by page; also how many pages it took."""
    items, pages = [], 0
    for region in REGIONS:
        token: str | None = None
        while True:
            extra = {"continuation": token} if token else {}
            status, body, _ = api(
                monkeypatch, cells(region), view, limit=str(limit), **params, **extra
            )
            assert status == 200, body
            doc = json.loads(body)
            assert doc["region"] == region
            assert len(doc["items"]) <= limit
            items.extend(doc["items"])
            pages += 1
            token = doc["continuation"]
            if token is None:
                break
    return items, pages


def test_history_is_the_same_from_the_cli_and_the_api(
    seeded: dict[str, Any],
    stack: LocalStack,
    cell_container: Cells,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from_cli = cli_json(stack, "history", MODEL)
    from_api, pages = api_all(monkeypatch, cell_container, "history", model=MODEL)
    assert from_cli == from_api
    assert pages > 2  # continuation tokens over more than one page
    assert len(from_cli) == 8 + 8 + 1 + 1 + 9
    assert [i["region"] for i in from_cli] == ["westeurope"] * 18 + ["swedencentral"] * 9
    only_v2 = cli_json(stack, "history", MODEL, "--version", "2.0.0")
    assert {i["key_hash"] for i in only_v2} == {seeded["v2"].key_hash}


def test_live_shows_the_rolled_back_version_replaced(
    seeded: dict[str, Any],
    stack: LocalStack,
    cell_container: Cells,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from_cli = cli_json(stack, "live")
    from_api, _ = api_all(monkeypatch, cell_container, "live", limit=1)
    assert from_cli == from_api
    mine = {(i["region"], i["entry"]["key_hash"]) for i in from_cli if i["model"] == MODEL}
    assert mine == {("westeurope", seeded["v1"].key_hash), ("swedencentral", seeded["se"].key_hash)}
    v1 = next(i for i in from_cli if i["entry"]["key_hash"] == seeded["v1"].key_hash)
    assert v1["since"] == "2026-05-10T08:07:00Z"
    assert v1["entry"]["record"]["where"]["cluster"] == "aks-westeurope"


def test_a_window_and_an_actor_are_the_same_from_the_cli_and_the_api(
    seeded: dict[str, Any],
    stack: LocalStack,
    cell_container: Cells,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = {"since": "2026-05-10T00:00:00Z", "until": "2026-05-11T00:00:00Z"}
    from_cli = cli_json(stack, "list", "--since", window["since"], "--until", window["until"])
    from_api, _ = api_all(monkeypatch, cell_container, "records", limit=7, **window)
    assert from_cli == from_api and len(from_cli) == 27
    rejected = cli_json(
        stack,
        "list",
        "--since",
        window["since"],
        "--until",
        window["until"],
        "--kind",
        "artifact.rejected",
        "--region",
        "westeurope",
    )
    assert [r["record"]["reasons"][0]["code"] for r in rejected] == ["CLR-LABEL-MISSING"]

    from_cli = cli_json(stack, "by-actor", APPROVER.upper())
    from_api, _ = api_all(monkeypatch, cell_container, "actors", identity=APPROVER)
    assert from_cli == from_api
    assert [(i["region"], i["record"]["kind"]) for i in from_cli] == [
        ("swedencentral", "approval.vote")
    ]


@pytest.mark.parametrize(("fmt", "read"), [("csv", read_csv), ("json", read_json)])
def test_exports_round_trip_and_prove_themselves(
    seeded: dict[str, Any], stack: LocalStack, tmp_path: Path, fmt: str, read: Any
) -> None:
    out = tmp_path / f"export.{fmt}"
    result = CliRunner().invoke(
        cli.app,
        [
            "export",
            "--format",
            fmt,
            "-o",
            str(out),
            "--root",
            str(stack.root),
            "--since",
            "2026-05-10T00:00:00Z",
            "--until",
            "2026-05-11T00:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    back = read(out.read_text(encoding="utf-8"))
    assert len(back) == 27 and all(e.proves_itself() for e in back)
    listed = cli_json(
        stack, "list", "--since", "2026-05-10T00:00:00Z", "--until", "2026-05-11T00:00:00Z"
    )
    assert [e.hash for e in back] == [i["hash"] for i in listed]


def test_the_audit_page_and_chain_view_of_an_artifact(
    seeded: dict[str, Any], cell_container: Cells, monkeypatch: pytest.MonkeyPatch
) -> None:
    west = cell_container("westeurope")
    key = seeded["v2"].key_hash
    status, page, headers = api(monkeypatch, west, "audit", key)
    assert status == 200 and headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "deployment.rolled_back" in page and "cid@contoso.example" in page
    status, body, _ = api(monkeypatch, west, "artifacts", key, limit="2")
    doc = json.loads(body)
    assert [i["seq"] for i in doc["items"]] == [1, 2] and doc["continuation"]
    assert doc["summary"]["did_not_answer"] == ["cid@contoso.example"]
    assert doc["summary"]["rolled_back"]


def test_a_cell_serves_only_its_own_region(
    seeded: dict[str, Any], cell_container: Cells, monkeypatch: pytest.MonkeyPatch
) -> None:
    west = cell_container("westeurope")
    status, body, _ = api(monkeypatch, west, "live", region="swedencentral")
    assert status == 404 and "own cell" in body
    status, _, _ = api(monkeypatch, west, "audit", seeded["se"].key_hash)
    assert status == 404  # the swedencentral artifact is not in westeurope's account
    status, body, _ = api(monkeypatch, west, "history", model=MODEL, continuation="forged")
    assert status == 400 and "CLR-LINEAGE-TOKEN-INVALID" in body


def test_snapshots_then_verify_all_is_ok(
    seeded: dict[str, Any],
    stack: LocalStack,
    cell_container: Cells,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timer = lineage_heads.lineage_heads.build().get_user_function()
    for region in REGIONS:
        monkeypatch.setattr(lineage_heads, "get_container", lambda r=region: cell_container(r))
        timer(None)
    result = CliRunner().invoke(cli.app, ["verify", "--all", "--root", str(stack.root)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("  OK") == 2 and "heads/" in result.stdout


def test_the_table_format_reads_like_a_timeline(seeded: dict[str, Any], stack: LocalStack) -> None:
    result = CliRunner().invoke(cli.app, ["history", MODEL, "--root", str(stack.root)])
    assert result.exit_code == 0, result.output
    assert "approval.vote" in result.stdout and "bob@contoso.example (easy_auth)" in result.stdout
    assert "deployment.rolled_back" in result.stdout
    bad = CliRunner().invoke(
        cli.app,
        ["list", "--since", "2026-05-11", "--until", "2026-05-10", "--root", str(stack.root)],
    )
    assert bad.exit_code == 2 and "later" in bad.output
