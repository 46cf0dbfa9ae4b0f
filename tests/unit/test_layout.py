"""Layout rules: registration-only function_app, cold import, settings and packaging in sync."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_import_function_app_stays_light_and_offline() -> None:
    probe = """
import socket, sys
def refuse(*a, **k):
    raise AssertionError("network I/O during import")
socket.socket.connect = refuse
socket.create_connection = refuse
import function_app
heavy = sorted(m for m in sys.modules
               if m.split('.')[0] in ('kubernetes', 'opentelemetry', 'prometheus_client')
               or m.startswith(('azure.ai.ml', 'azure.monitor')))
print(heavy)
print(len(function_app.app.get_functions()))
import logging
logging.basicConfig(level=logging.INFO)  # as the Python worker: INFO reaches the host
http = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
ours = [logging.getLogger(n) for n in ("shared.services.intake", "functions.x", "clearance")]
print(http.isEnabledFor(logging.INFO), http.isEnabledFor(logging.WARNING),
      all(o.isEnabledFor(logging.INFO) for o in ours))
"""
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},  # no settings at all: import must not need them
    )
    heavy, count, levels = out.stdout.strip().splitlines()
    assert heavy == "[]"
    assert int(count) >= 1
    # azure-core's per-request INFO log is off in Azure too, its warnings and our INFO are not
    assert levels == "False True True"


def test_function_app_only_registers_blueprints() -> None:
    tree = ast.parse((REPO / "function_app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # docstring
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if ast.unparse(node) == "logging.getLogger('azure').setLevel(logging.WARNING)":
            continue  # the SDKs' per-request INFO logs off, once at startup
        if isinstance(node, ast.Assign):
            assert ast.unparse(node.value).startswith("func.FunctionApp(")
            continue
        assert isinstance(node, ast.Expr), ast.unparse(node)
        assert ast.unparse(node).startswith("app.register_functions("), ast.unparse(node)


def test_every_trigger_module_defines_one_blueprint() -> None:
    for path in sorted((REPO / "functions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        source = path.read_text()
        assert source.count("func.Blueprint()") == 1, path.name


def test_local_settings_sample_lists_every_setting() -> None:
    values = json.loads((REPO / "local.settings.sample.json").read_text())["Values"]
    aliases = {str(f.validation_alias) for f in Settings.model_fields.values()}
    assert aliases <= set(values), sorted(aliases - set(values))


def test_requirements_txt_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_name(d): d for d in project["dependencies"]}
    lines = [
        ln.strip()
        for ln in (REPO / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    required = {_name(ln): ln for ln in lines}
    assert required == declared


def test_host_json_declares_the_delivery_limit_and_bundle() -> None:
    host = json.loads((REPO / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["version"].startswith("[4.")
    assert host["extensions"]["queues"]["maxDequeueCount"] >= 2
    assert host["extensions"]["serviceBus"]["maxConcurrentCalls"] >= 1


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()
