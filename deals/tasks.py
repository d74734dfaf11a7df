"""Celery tasks of deal registration: thin wrappers that load ids and call one service."""

from celery import shared_task
from django.db import OperationalError

from deals import notifications, services


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, max_retries=5)
def expire_deal_registrations() -> int:
    """Nightly: approved registrations whose protection has ended expire."""
    return services.deals_expire()


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def notify_deal_event(deal_id: int, event: str) -> int:
    """Email the people who act next on a registration. Returns the number of recipients."""
    return notifications.deal_event(deal_id, event)
