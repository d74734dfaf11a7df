"""Celery tasks of onboarding: thin wrappers around one service each."""

from celery import shared_task

from onboarding import services


@shared_task
def refresh_checklists(partner_ids: list[int]) -> int:
    return services.checklists_refresh(partner_ids=partner_ids)
