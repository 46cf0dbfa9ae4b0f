"""The cell's health: settings and catalog valid, own region known. No network calls."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import ConfigurationError, get_settings


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    region: str | None
    problem: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "misconfigured",
            "region": self.region,
            "problem": self.problem,
        }


def check_health() -> HealthReport:
    try:
        settings = get_settings()
        cell = settings.cell
    except ConfigurationError as exc:
        return HealthReport(ok=False, region=None, problem=str(exc))
    return HealthReport(ok=True, region=cell.name)
