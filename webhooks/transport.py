"""Sending one signed request: to the address that was checked, short timeouts, no redirects.

``http.client`` follows no redirects (a 3xx is an answer like any other, and
a failure); the connection goes to the resolved and checked address while
TLS verifies the certificate of the host named in the URL.
"""

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from django.conf import settings

from webhooks.addresses import Target

# Bytes of the answer kept in the delivery log.
EXCERPT_BYTES = 1024
USER_AGENT = "PRM-Webhooks/1"


@dataclass
class Response:
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, *, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, *, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body``; never raises for network trouble, which comes back as ``error``."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout=settings.PRM_WEBHOOKS_CONNECT_TIMEOUT)
    started = time.monotonic()
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(settings.PRM_WEBHOOKS_READ_TIMEOUT)
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
        excerpt = answer.read(EXCERPT_BYTES)
        return Response(
            status_code=answer.status,
            latency_ms=_elapsed(started),
            excerpt=excerpt.decode("utf-8", errors="replace"),
        )
    except (OSError, http.client.HTTPException) as exc:
        return Response(status_code=None, latency_ms=_elapsed(started), excerpt="", error=_describe(exc))
    finally:
        connection.close()


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "Timed out."
    return f"{type(exc).__name__}: {exc}"[:300]
