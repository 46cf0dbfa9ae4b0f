"""The stack's own lifecycle: hosts as real processes, health, status, and stop by PID."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from shared.local.stack import REGIONS, LocalStack

pytestmark = pytest.mark.stack


def test_hosts_start_answer_for_their_region_and_stop_by_pid(stack: LocalStack) -> None:
    try:
        stack.start_hosts(timeout=60)
        for region in REGIONS:
            with urllib.request.urlopen(f"{stack.host_url(region)}/api/health", timeout=5) as r:
                assert json.loads(r.read()) == {"status": "ok", "region": region, "problem": None}
        report = stack.status()
        assert all(row["healthy"] for row in report.values()), report
        # idempotent: a second start returns the same PID
        pid = stack.processes.pid("host-westeurope")
        assert stack.start_host("westeurope") == pid
    finally:
        for region in REGIONS:
            stack.processes.stop(f"host-{region}")
    assert stack.processes.pid("host-westeurope") is None
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stale_pid_file_is_never_signalled(stack: LocalStack) -> None:
    # A PID file naming a live process that is not ours (this test runner) must be ignored.
    path = stack.processes.pid_dir / "impostor.pid"
    path.write_text(f"{os.getpid()}\nregistry.yml")
    try:
        assert stack.processes.pid("impostor") is None
        assert stack.processes.stop("impostor") is False
    finally:
        path.unlink(missing_ok=True)


def test_each_region_has_its_own_settings_and_account(stack: LocalStack) -> None:
    weu = stack.environment("westeurope")
    sdc = stack.environment("swedencentral")
    assert weu["CLEARANCE_REGION"] == "westeurope"
    assert "AccountName=clrwesteurope" in weu["CLEARANCE_STORAGE_CONNECTION_STRING"]
    assert "AccountName=clrswedencentral" in sdc["CLEARANCE_STORAGE_CONNECTION_STRING"]
    catalog = json.loads(stack.catalog_file.read_text())
    servers = {r["name"]: r["registry"]["login_server"] for r in catalog["regions"]}
    assert servers["westeurope"] != servers["swedencentral"]
