"""Start and stop local processes by PID file. Only PIDs we recorded are ever signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class ProcessTable:
    def __init__(self, root: Path) -> None:
        self.pid_dir = root / "pids"
        self.log_dir = root / "logs"

    def _pid_file(self, name: str) -> Path:
        return self.pid_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The recorded PID of ``name`` if that process is still alive and still ours."""
        path = self._pid_file(name)
        try:
            pid, marker = path.read_text().split("\n", 1)
            pid_value = int(pid)
        except (OSError, ValueError):
            return None
        if not _alive(pid_value) or marker.strip() not in _cmdline(pid_value):
            return None
        return pid_value

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        existing = self.pid(name)
        if existing is not None:
            return existing
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )
        log.close()
        # The marker lets us refuse to signal a recycled PID that runs something else.
        self._pid_file(name).write_text(f"{proc.pid}\n{Path(argv[-1]).name if argv else ''}")
        return proc.pid

    def stop(self, name: str, timeout: float = 10.0) -> bool:
        pid = self.pid(name)
        self._pid_file(name).unlink(missing_ok=True)
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
        _reap(pid)
        return True

    def names(self) -> list[str]:
        if not self.pid_dir.exists():
            return []
        return sorted(p.stem for p in self.pid_dir.glob("*.pid"))

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # we started it as a session leader: its group is its own
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return


def _reap(pid: int) -> None:
    """Collect the exit status if the process was started by this very process."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        return
