"""DigestStore over Table Storage: ``maildigests``, one partition per (canonical) address.

The window row (RowKey ``window``) is a conditional insert: of two instances mailing one
address at once, exactly one opens the window. Held mails are rows ``held|<time>|<n>``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from shared.adapters.storage.resources import LazyTable
from shared.domain.errors import TransientError
from shared.ports.mail import HeldMail

TABLE = "maildigests"


def _pk(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:40]


class TableDigestStore:
    def __init__(self, table_service: Any) -> None:
        self._table = LazyTable(table_service, TABLE)

    def open_window(self, address: str, now: datetime) -> bool:
        from azure.core.exceptions import AzureError, ResourceExistsError

        try:
            self._table().create_entity(
                {
                    "PartitionKey": _pk(address),
                    "RowKey": "window",
                    "Address": address,
                    "OpenedAt": now.astimezone(UTC).isoformat(),
                }
            )
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise TransientError(f"mail digest window: {exc}") from exc
        return True

    def hold(self, address: str, held: HeldMail, now: datetime) -> None:
        from azure.core.exceptions import AzureError

        row = f"held|{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S%f')}|{secrets.token_hex(4)}"
        try:
            self._table().create_entity(
                {
                    "PartitionKey": _pk(address),
                    "RowKey": row,
                    "Address": held.address,
                    "Subject": held.subject,
                    "Summary": held.summary,
                }
            )
        except AzureError as exc:
            raise TransientError(f"mail digest hold: {exc}") from exc

    def due(self, opened_before: datetime) -> list[tuple[str, list[HeldMail]]]:
        windows = self._table().query_entities("RowKey eq 'window'")
        out: list[tuple[str, list[HeldMail]]] = []
        for w in windows:
            if datetime.fromisoformat(str(w["OpenedAt"])) >= opened_before:
                continue
            pk = str(w["PartitionKey"])
            rows = self._table().query_entities(
                "PartitionKey eq @pk and RowKey gt 'held|' and RowKey lt 'held}'",
                parameters={"pk": pk},
            )
            held = [HeldMail(str(r["Address"]), str(r["Subject"]), str(r["Summary"])) for r in rows]
            out.append((str(w["Address"]), held))
        return out

    def close(self, address: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        pk = _pk(address)
        rows = self._table().query_entities("PartitionKey eq @pk", parameters={"pk": pk})
        for r in sorted(rows, key=lambda r: r["RowKey"] == "window"):  # the window last
            try:
                self._table().delete_entity(pk, r["RowKey"])
            except ResourceNotFoundError:
                continue
