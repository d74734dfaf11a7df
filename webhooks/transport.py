"""Sending one signed request: to the address that was checked, short timeouts, no redirects.

``http.client`` follows no redirects (a 3xx is an answer like any other, and
a failure); the connection goes to the resolved and checked address while
TLS verifies the certificate of the host named in the URL.

Connections are kept alive and reused, one small pool per process: a
delivery costs no TCP (or TLS) handshake when the last one went to the same
receiver. A connection is keyed by the address it was opened to, and the URL
is still resolved and checked before every attempt, so a name that resolves
elsewhere now (DNS rebinding) never rides an old connection: it gets a new
one to the newly checked address, or no request at all.
"""

import http.client
import os
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from webhooks.addresses import Target

# Bytes of the answer kept in the delivery log.
EXCERPT_BYTES = 1024
# Bytes of the rest of an answer read (and dropped) to keep its connection; a longer answer
# closes the connection instead.
DRAIN_BYTES = 64 * 1024
USER_AGENT = "PRM-Webhooks/1"
# A connection idle longer than this is closed rather than reused: receivers commonly close
# idle connections after 5 s (Node, Apache) or more, and one closed under our request fails it.
IDLE_SECONDS = 4.0
# Idle connections a process keeps, per receiver address and in all.
IDLE_PER_ADDRESS = 2
IDLE_TOTAL = 64


@dataclass
class Response:
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _open(address: str, port: int, timeout: float | None) -> socket.socket:
    sock = socket.create_connection((address, port), timeout)
    # http.client writes the headers and the body separately: on a kept-alive connection Nagle's
    # algorithm would hold the body until the receiver's delayed acknowledgement (some 40 ms)
    # of the headers. Every HTTP client that keeps connections sets this.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, *, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = _open(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, *, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = _open(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


_Key = tuple[str, str, int, str]


def _key(target: Target) -> _Key:
    # The checked address is part of the key: a connection serves only requests whose own
    # resolution, just made, found the address it was opened to.
    return (target.scheme, target.host, target.port, target.address)


class ConnectionPool:
    """Idle keep-alive connections, taken out while a request uses one (safe across threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._pid = os.getpid()

    def take(self, target: Target) -> http.client.HTTPConnection | None:
        """An idle connection to this target that still looks open, or None."""
        now = time.monotonic()
        with self._lock:
            self._forget_after_fork()
            idle = self._idle.get(_key(target), [])
            while idle:
                connection, since = idle.pop()
                if now - since <= IDLE_SECONDS and _still_open(connection):
                    return connection
                connection.close()
        return None

    def give_back(self, target: Target, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._forget_after_fork()
            idle = self._idle.setdefault(_key(target), [])
            idle.append((connection, time.monotonic()))
            while len(idle) > IDLE_PER_ADDRESS:
                idle.pop(0)[0].close()
            while sum(len(connections) for connections in self._idle.values()) > IDLE_TOTAL:
                oldest = min(
                    (key for key, connections in self._idle.items() if connections),
                    key=lambda key: self._idle[key][0][1],
                )
                self._idle[oldest].pop(0)[0].close()

    def clear(self) -> None:
        with self._lock:
            for connections in self._idle.values():
                for connection, _since in connections:
                    connection.close()
            self._idle.clear()

    def _forget_after_fork(self) -> None:
        # A worker process forked from one that held connections must not share their sockets.
        if self._pid != os.getpid():
            self._idle.clear()
            self._pid = os.getpid()


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection has nothing to read: readable means the receiver closed it."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


POOL = ConnectionPool()


class _ClosedBeforeAnswering(Exception):
    """A reused connection the receiver had closed: no answer came back."""


def post(target: Target, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body``; never raises for network trouble, which comes back as ``error``.

    A reused connection that the receiver closed before answering (an idle
    close racing the request: not a byte of an answer came back) is replaced
    by a new one and the request sent once more; anything else that fails is
    the attempt's error.
    """
    started = time.monotonic()
    connection = POOL.take(target)
    if connection is not None:
        try:
            return _exchange(target, connection, body, headers, started, reused=True)
        except _ClosedBeforeAnswering:
            connection.close()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            return Response(status_code=None, latency_ms=_elapsed(started), excerpt="", error=_describe(exc))
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout=settings.PRM_WEBHOOKS_CONNECT_TIMEOUT)
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(settings.PRM_WEBHOOKS_READ_TIMEOUT)
        return _exchange(target, connection, body, headers, started, reused=False)
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        return Response(status_code=None, latency_ms=_elapsed(started), excerpt="", error=_describe(exc))


def _exchange(
    target: Target,
    connection: http.client.HTTPConnection,
    body: bytes,
    headers: dict[str, str],
    started: float,
    *,
    reused: bool,
) -> Response:
    """One request and its answer on an open connection, which goes back to the pool if it may."""
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Content-Length": str(len(body)),
            },
        )
        answer = connection.getresponse()
    except (ConnectionResetError, BrokenPipeError) as exc:
        # http.client.RemoteDisconnected, the closed-without-a-status-line case, is a
        # ConnectionResetError. On a new connection it is the receiver's failure to answer.
        if reused:
            raise _ClosedBeforeAnswering from exc
        raise
    excerpt = answer.read(EXCERPT_BYTES)
    latency_ms = _elapsed(started)
    if _drained(answer):
        POOL.give_back(target, connection)
    else:
        connection.close()
    return Response(
        status_code=answer.status, latency_ms=latency_ms, excerpt=excerpt.decode("utf-8", errors="replace")
    )


def _drained(answer: http.client.HTTPResponse) -> bool:
    """Whether the answer was read to its end and its connection may carry another request."""
    if answer.will_close:
        return False
    try:
        answer.read(DRAIN_BYTES)
    except (OSError, http.client.HTTPException):
        return False
    return answer.isclosed()


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "Timed out."
    return f"{type(exc).__name__}: {exc}"[:300]
