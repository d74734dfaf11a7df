"""Celery tasks of the inbox: thin wrappers that call one service."""

import datetime

from celery import shared_task
from django.db import OperationalError

from inbox import services


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def items_from_events(event_ids: list[str]) -> int:
    """After commit: the inbox items these outbox events call for. Returns items asked for."""
    return services.items_from_outbox(event_ids)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def risk_items_refresh(moved: list[list[int]], closer: list[list[int]], ended: list[list], as_of: str) -> int:
    """After a forecast: rewrite the at-risk items of the episodes that moved or ended. Returns items changed."""
    return services.risk_items_refresh(
        moved=moved, closer=closer, ended=ended, as_of=datetime.date.fromisoformat(as_of)
    )


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def send_immediate_items(pairs: list[list]) -> int:
    """After commit: email the (user id, key) items their users want at once. Returns emails sent."""
    return services.immediate_items_send(pairs)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def inbox_daily() -> int:
    """Beat: claims due, certifications expiring, announcements whose time came. Returns items."""
    return services.due_items_create()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def send_digests() -> int:
    """Beat: each user's daily digest, once a day. Returns emails queued."""
    return services.digests_send()
