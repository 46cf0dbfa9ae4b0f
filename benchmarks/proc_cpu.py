"""CPU time of local processes from /proc, so a benchmark's figures explain themselves."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int | None) -> float:
    """utime + stime (and waited-for children) of one process, from /proc."""
    if pid is None:
        return 0.0
    try:
        fields, _ = cpu_stat(pid)
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Worker processes of a host started with FUNCTIONS_WORKER_PROCESS_COUNT > 1."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and cpu_stat(int(entry.name))[1] == pid:
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def cpu_stat(pid: int) -> tuple[list[str], int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields, int(fields[1])
