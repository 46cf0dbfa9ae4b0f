"""Cold import of function_app vs eager import of every SDK the app uses.

    .venv/bin/python benchmarks/cold_import.py [--runs 5]

Each figure is the median over fresh interpreters (a cold start imports in a new process).
Target: function_app <= 0.35x the eager figure.

The app's own modules are compiled to bytecode first, as the package step of
azure-pipelines.yml does (`compileall`): the Functions host runs the package read-only, so
bytecode it does not ship is compiled again at every cold start (the SDKs' bytecode is written
by pip). Without it, under PYTHONDONTWRITEBYTECODE, the import compiles every module of ours.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from figures import verdict

REPO = Path(__file__).resolve().parents[1]
EAGER_SDKS = [
    "azure.functions",
    "azure.eventgrid",
    "azure.servicebus",
    "azure.ai.ml",
    "azure.containerregistry",
    "azure.data.tables",
    "azure.storage.queue",
    "azure.storage.blob",
    "azure.identity",
    "azure.communication.email",
    "kubernetes",
    "pydantic",
    "pydantic_settings",
]


def timed_import(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


APP = ["function_app.py", "functions", "shared"]


def compile_app() -> None:
    """The app's bytecode, as the package step writes it."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j0", *APP], cwd=REPO, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compile_app()
    timed_import("import function_app")  # warm the OS file cache once, like a warm host disk
    app = [timed_import("import function_app") for _ in range(args.runs)]
    eager = [timed_import("; ".join(f"import {m}" for m in EAGER_SDKS)) for _ in range(args.runs)]
    app_s, eager_s = statistics.median(app), statistics.median(eager)
    print(
        f"python {sys.version.split()[0]}, {args.runs} fresh interpreters each (median), "
        "the app's bytecode compiled first (as packaged)"
    )
    print(f"import function_app      : {app_s * 1000:8.1f} ms")
    print(f"eager import of all SDKs : {eager_s * 1000:8.1f} ms  ({', '.join(EAGER_SDKS)})")
    ratio = app_s / eager_s
    print(f"ratio                    : {ratio:8.3f}  {verdict(ratio, '<=', 0.35)}")


if __name__ == "__main__":
    main()
