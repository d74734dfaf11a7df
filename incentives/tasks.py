"""Celery tasks: thin wrappers that load ids and call one service."""

from celery import shared_task
from django.db import OperationalError

from incentives import services
from incentives.periods import parse_period


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def calculate_deal_task(deal_id: int) -> dict:
    """A deal was won (or changed): its margins, commissions, split payouts and SPIFs."""
    return services.calculate_deal(deal_id=deal_id).as_dict()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def deal_activated_task(deal_id: int) -> dict:
    """A customer activated: settle the deal, then release held parts of closed quarters."""
    summary = services.calculate_deal(deal_id=deal_id).as_dict()
    summary["released"] = services.release_payable()
    return summary


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def calculate_activities_task(activity_ids: list[int]) -> dict:
    """Engagement activities were recorded or removed: their points and activity SPIFs."""
    return services.calculate_activities(activity_ids=activity_ids).as_dict()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, max_retries=5)
def calculate_partner_task(partner_id: int, period: str | None = None) -> dict:
    scope = services.Scope(
        partner_ids=frozenset({partner_id}), period=parse_period(period) if period else None
    )
    return services.calculate(scope=scope).as_dict()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=60, max_retries=5)
def incentives_daily_task() -> dict:
    """The scheduled run: close ended quarters, forfeit overdue held parts, settle the current quarter."""
    return services.incentives_daily()
