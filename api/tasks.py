"""Celery tasks of the API: thin wrappers that call one service."""

from celery import shared_task
from django.db import OperationalError

from api import idempotency


@shared_task(autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def purge_idempotency_keys() -> int:
    """Beat: forget the idempotency keys past their hours. Returns how many."""
    return idempotency.purge()
