"""HTTP triggers at /api/<route>: route templates, methods and func.HttpRequest/Response."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from shared.local.devhost.app_index import FunctionIndex, IndexedFunction

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}")
_CONSTRAINTS = {"int": r"-?\d+", "guid": r"[0-9a-fA-F-]{36}", "alpha": r"[A-Za-z]+"}


@dataclass(frozen=True)
class Route:
    function: IndexedFunction
    pattern: re.Pattern[str]
    methods: frozenset[str] | None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def compile_template(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        catch_all, name, constraint, optional = m.groups()
        body = ".*" if catch_all else _CONSTRAINTS.get(constraint or "", r"[^/]+")
        group = f"(?P<{name}>{body})"
        if optional:
            # an optional trailing segment also makes its leading slash optional
            if out and out[-1].endswith("/"):
                out[-1] = out[-1][:-1]
                group = f"(?:/{group})?"
            else:
                group += "?"
        out.append(group)
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out).strip("/") + "/?$", re.IGNORECASE)


class HttpRouter:
    def __init__(self, index: FunctionIndex, prefix: str = "api") -> None:
        self.prefix = prefix.strip("/")
        self.routes: list[Route] = []
        for fn in index.of_type("httpTrigger"):
            template = fn.trigger.route or fn.name
            methods = fn.trigger.methods
            allowed = (
                frozenset(str(getattr(m, "value", m)).upper() for m in methods) if methods else None
            )
            self.routes.append(Route(fn, compile_template(template), allowed))

    def handles(self, path: str) -> bool:
        return path.strip("/").split("/", 1)[0] == self.prefix

    def dispatch(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(url)
        sub = parts.path.strip("/")[len(self.prefix) :].strip("/")
        matched_path = False
        for route in self.routes:
            m = route.pattern.match(sub)
            if not m:
                continue
            matched_path = True
            if route.methods is not None and method.upper() not in route.methods:
                continue
            request = func.HttpRequest(
                method=method.upper(),
                url=url,
                headers=headers,
                params=dict(parse_qsl(parts.query, keep_blank_values=True)),
                route_params={k: v for k, v in m.groupdict().items() if v is not None},
                body=body,
            )
            return to_reply(route.function.invoke(request))
        # The Functions host answers 404 when no route (or no route with that method) matches.
        reason = b"method not allowed for this route" if matched_path else b"not found"
        return Reply(404, [("Content-Type", "text/plain")], reason)


def to_reply(response: object) -> Reply:
    if response is None:
        return Reply(204, [], b"")
    if not isinstance(response, func.HttpResponse):
        raise TypeError(f"HTTP function returned {type(response).__name__}, not HttpResponse")
    headers = [(k, v) for k, v in response.headers.items()]
    if response.mimetype and not any(k.lower() == "content-type" for k, _ in headers):
        ctype = response.mimetype
        if response.charset and ctype.startswith("text/"):
            ctype += f"; charset={response.charset}"
        headers.append(("Content-Type", ctype))
    return Reply(response.status_code, headers, response.get_body() or b"")
