"""Keep-alive connections per (scheme, host, port, TLS settings), shared by threads.

A connection is taken out of the pool for one exchange and given back only when its response
was read completely and neither side asked to close it. At most ``size`` idle connections are
kept per origin (as urllib3's ``pool_maxsize`` without blocking): more threads than that open
more connections, and the extras are closed when given back. An idle connection the server
closed meanwhile is noticed before reuse (readable while idle means EOF or stray bytes) and
dropped; one closed exactly as it is reused is the transport's retry-once case.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
from typing import Any

from shared.adapters.lean_http.wire import Connection

Verify = bool | str
Cert = str | tuple[str, str] | None
Origin = tuple[str, str, int, Verify, Cert]


def tls_context(verify: Verify, cert: Cert) -> ssl.SSLContext:
    """Certificate and host name verification against the CA file or directory ``verify``
    names, or requests' default bundle (certifi; the system store without it) for True.
    ``verify=False`` turns verification off: only when a caller passes it explicitly."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        try:
            import certifi
        except ImportError:  # pragma: no cover - certifi comes with requests
            context = ssl.create_default_context()
        else:
            context = ssl.create_default_context(cafile=certifi.where())
    elif os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    else:
        context = ssl.create_default_context(cafile=verify)
    if cert:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context


class Pool:
    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: dict[Origin, list[Connection]] = {}
        self._contexts: dict[tuple[Verify, Cert], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def take(self, origin: Origin) -> Connection | None:
        """An idle connection to ``origin`` still open, most recently used first, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                conn = idle.pop()
            if _still_open(conn.sock):
                return conn
            conn.close()

    def give(self, origin: Origin, conn: Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self.size:
                idle.append(conn)
                return
        conn.close()

    def connect(self, origin: Origin, connect_timeout: float | None) -> Connection:
        """A new connection (TLS handshake included) within ``connect_timeout``; socket and
        TLS errors propagate (the transport translates them)."""
        scheme, host, port, verify, cert = origin
        sock = socket.create_connection((host, port), timeout=connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._context(verify, cert).wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return Connection(sock)

    def _context(self, verify: Verify, cert: Cert) -> ssl.SSLContext:
        key = (verify, cert)
        with self._lock:
            context = self._contexts.get(key)
        if context is None:
            context = tls_context(verify, cert)
            with self._lock:
                context = self._contexts.setdefault(key, context)
        return context

    def idle(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def clear(self) -> None:
        """Close every idle connection (connections in use are closed when given back only
        if the pool is full; the pool stays usable)."""
        with self._lock:
            idle = [c for conns in self._idle.values() for c in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()


def _still_open(sock: Any) -> bool:
    """An idle connection is readable only if the server closed it (or sent stray bytes)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]
    except (OSError, ValueError):
        return False
