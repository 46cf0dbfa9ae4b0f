"""A local threaded TCP server whose answers the test writes byte by byte (hostile ones too)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class Peer:
    """The server's side of one accepted connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def read_request(self) -> Request | None:
        """The next request on this connection, None when the client closed it."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        body, self.buf = self.buf[:length], self.buf[length:]
        return Request(method, target, headers, body)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


Handler = Callable[[Peer, "Server"], None]


@dataclass
class Server:
    handler: Handler
    tls: ssl.SSLContext | None = None
    connections: int = 0
    seen: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    stop: threading.Event = field(default_factory=threading.Event)  # set when the test ends

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def record(self, request: Request) -> None:
        with self.lock:
            self.seen.append(request)


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} OK", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def echo(peer: Peer, server: Server) -> None:
    """Answer every request on the connection with its method, target and body (JSON-ish)."""
    while (request := peer.read_request()) is not None:
        server.record(request)
        body = f"{request.method} {request.target} ".encode() + request.body
        peer.send(reply(200, body, {"Content-Type": "text/plain; charset=utf-8"}))


@contextmanager
def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    server = Server(handler, tls)
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]
    stop = server.stop
    threads: list[threading.Thread] = []
    accepted: list[socket.socket] = []

    def run(sock: socket.socket) -> None:
        try:
            if tls is not None:
                sock = tls.wrap_socket(sock, server_side=True)
            server.handler(Peer(sock), server)
        except (OSError, ValueError):
            pass
        finally:
            sock.close()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with server.lock:
                server.connections += 1
            accepted.append(sock)
            thread = threading.Thread(target=run, args=(sock,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join(2)
        listener.close()
        for sock in accepted:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join(2)
