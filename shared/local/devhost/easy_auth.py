"""App Service Authentication ("Easy Auth") as the local host plays it: local mode only.

In Azure the platform signs the user in with Entra ID, strips any ``X-MS-CLIENT-PRINCIPAL*``
header a client sent, and adds its own (base64 JSON of the token's claims). Here the sign-in page
is ``/.auth/login/local?as=<sample person>``: it looks the person up in the local directory
document, keeps a random session id in a cookie, and from then on the host injects that person's
principal (``oid``, ``tid``, ``preferred_username``, ``name``) into requests to the functions.
Client-sent principal headers are always dropped, exactly like the platform does. The host sets
``WEBSITE_AUTH_ENABLED=True`` as App Service does, which is what the app checks before it trusts
the header at all.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

COOKIE = "AppServiceAuthSession"
_PRINCIPAL_HEADERS = (
    "x-ms-client-principal",
    "x-ms-client-principal-id",
    "x-ms-client-principal-name",
    "x-ms-client-principal-idp",
    "x-ms-token-aad-id-token",
)


class LocalEasyAuth:
    def __init__(self, directory_file: Path) -> None:
        self._directory_file = directory_file
        self._sessions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        os.environ["WEBSITE_AUTH_ENABLED"] = "True"

    @classmethod
    def from_environment(cls) -> LocalEasyAuth | None:
        if os.environ.get("CLEARANCE_LOCAL_EASY_AUTH", "").lower() != "true":
            return None
        path = os.environ.get("CLEARANCE_DIRECTORY_FILE")
        return cls(Path(path)) if path else None

    def _person(self, mail: str) -> dict[str, Any] | None:
        doc = json.loads(self._directory_file.read_text(encoding="utf-8"))
        wanted = mail.strip().lower()
        for user in doc.get("users", []):
            if str(user.get("mail", "")).lower() == wanted:
                return {**user, "tenant_id": doc.get("tenant_id")}
        return None

    def login(self, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        params = parse_qs(query)
        who = (params.get("as") or [""])[0]
        person = self._person(who) if who else None
        if person is None:
            return 403, [("Content-Type", "text/plain")], b"no such person in the local directory"
        session = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session] = person
        target = (params.get("post_login_redirect_uri") or ["/"])[0]
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # no open redirect
        cookie = f"{COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
        return 302, [("Set-Cookie", cookie), ("Location", target)], b""

    def principal_for(self, headers: dict[str, str]) -> dict[str, str]:
        """``headers`` without any client-sent principal, plus the session's own, if any."""
        clean = {k: v for k, v in headers.items() if k.lower() not in _PRINCIPAL_HEADERS}
        cookie = SimpleCookie()
        try:
            cookie.load(next((v for k, v in headers.items() if k.lower() == "cookie"), ""))
        except Exception:  # noqa: BLE001 - a malformed cookie is no session
            return clean
        morsel = cookie.get(COOKIE)
        with self._lock:
            person = self._sessions.get(morsel.value) if morsel else None
        if person is None:
            return clean
        claims = [
            {
                "typ": "http://schemas.microsoft.com/identity/claims/objectidentifier",
                "val": person["object_id"],
            },
            {
                "typ": "http://schemas.microsoft.com/identity/claims/tenantid",
                "val": person.get("tenant_id") or "",
            },
            {"typ": "preferred_username", "val": person.get("mail") or ""},
            {"typ": "name", "val": person.get("display_name") or ""},
        ]
        doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
        clean["X-MS-CLIENT-PRINCIPAL"] = base64.b64encode(json.dumps(doc).encode()).decode()
        clean["X-MS-CLIENT-PRINCIPAL-ID"] = person["object_id"]
        return clean
