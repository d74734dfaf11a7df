"""Celery tasks of the outbox: thin wrappers that call one service."""

from celery import shared_task
from django.db import OperationalError

from events import retention


@shared_task(autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def purge_outbox() -> int:
    """Beat: delete the events past the retention that nothing still needs. Returns how many."""
    return retention.outbox_purge()
