"""A real Celery worker on a real Redis broker, for the tests that must cross a process boundary.

Without ``PRM_TEST_BROKER_URL`` (or with the broker down) these tests skip
with the reason, except under CI, where a missing broker fails the run.
"""

import os
import socket
from contextlib import contextmanager
from urllib.parse import urlparse

import pytest


def broker_url() -> str:
    url = os.environ.get("PRM_TEST_BROKER_URL", "")
    reason = None
    if not url:
        reason = "PRM_TEST_BROKER_URL is not set (e.g. redis://127.0.0.1:6379/15)"
    else:
        parsed = urlparse(url)
        try:
            socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2).close()
        except OSError as exc:
            reason = f"the broker at {url} is unreachable: {exc}"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real broker: {reason}")
        pytest.skip(reason)
    return url


@contextmanager
def running_worker():
    """Switch the app to the real broker and run a worker thread beside the test."""
    from celery.contrib.testing.worker import start_worker

    from prm.celery import app

    url = broker_url()
    saved = {
        key: app.conf[key]
        for key in ("broker_url", "result_backend", "task_always_eager", "task_default_queue")
    }
    # A queue of this process's own, so parallel test processes never take each other's tasks.
    app.conf.update(
        broker_url=url, result_backend=url, task_always_eager=False, task_default_queue=f"tests-{os.getpid()}"
    )
    _forget_connections(app)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        app.conf.update(saved)
        _forget_connections(app)


def _forget_connections(app) -> None:
    """Drop the app's cached pools so the next message uses the broker now configured."""
    app._pool = None
    # The result backend is cached per thread: let the next call build it anew.
    app._local.__dict__.pop("backend", None)
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
