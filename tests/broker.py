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


@contextmanager
def worker_processes(*, concurrency: int = 1, extra_env: dict[str, str] | None = None):
    """A Celery worker in a process of its own (prefork, ``concurrency`` children) on the real broker.

    The worker reads and writes the test database through its own
    connections, so tests using it need ``django_db(transaction=True)`` and
    PostgreSQL. Yields the worker's ``subprocess.Popen``; its log is
    ``process.log_path``. The app sends to the worker's queue meanwhile.
    """
    import subprocess
    import sys
    import tempfile
    import time
    import uuid

    from django.db import connection

    from prm.celery import app

    url = broker_url()
    if connection.vendor != "postgresql":
        pytest.skip("a worker in another process needs a database server (PostgreSQL) to share")
    database = connection.settings_dict
    queue = f"tests-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
            f"/{database['NAME']}"
        ),
        "CELERY_BROKER_URL": url,
        "REDIS_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "tests-only",
        "DJANGO_SETTINGS_MODULE": "prm.settings",
        **(extra_env or {}),
    }
    log = tempfile.NamedTemporaryFile(prefix="prm-worker-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "prm",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--queues",
        queue,
        "--hostname",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    saved = {
        key: app.conf[key]
        for key in ("broker_url", "result_backend", "task_always_eager", "task_default_queue")
    }
    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False, task_default_queue=queue)
    _forget_connections(app)
    # A fixed program, run by this interpreter.
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    process.log_path = log.name  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in pathlib_read(log.name):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{pathlib_read(log.name).decode(errors='replace')}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()  # a warm shutdown: the tasks in hand finish
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        app.conf.update(saved)
        _forget_connections(app)


def pathlib_read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
