"""A real webhook receiver on loopback: an HTTP server in a thread that verifies every request
with the ``standardwebhooks`` package, answers from a script, and deduplicates on webhook-id.

It speaks HTTP/1.0 (a connection per request) unless ``keep_alive``, when it speaks HTTP/1.1
and keeps connections open as most receivers do, closing one idle for ``idle_timeout`` seconds.
``connections`` counts the connections it accepted."""

import http.server
import json
import threading
import time
from dataclasses import dataclass, field

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int
    at: float


@dataclass
class Receiver:
    secret: str = ""
    # Status codes to answer, in order; then ``default_status``.
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    requests: list[Received] = field(default_factory=list)
    # Ids accepted once: what a receiver that deduplicates processes.
    processed: list[str] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)
    keep_alive: bool = False
    idle_timeout: float | None = None
    connections: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"
            timeout = receiver.idle_timeout

            def setup(self):
                super().setup()
                with receiver._lock:
                    receiver.connections += 1

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = receiver._answer(headers, body)
                answer = b"ok" if status < 300 else b"receiver says no " * 200
                self.send_response(status)
                for key, value in receiver.extra_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/prm?source=test"

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        with self._lock:
            status = self.script.pop(0) if self.script else self.default_status
            if not verified:
                status = 401
            webhook_id = headers.get("webhook-id", "")
            self.requests.append(Received(webhook_id, headers, body, verified, status, time.time()))
            if status < 300 and webhook_id not in self.processed:
                self.processed.append(webhook_id)
        return status

    def payloads(self) -> list[dict]:
        return [json.loads(request.body) for request in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
