"""Celery tasks: thin wrappers that load ids and call one service."""

import logging

from celery import shared_task
from django.core.mail import send_mail
from django.db import OperationalError

from gates import services

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, max_retries=5)
def evaluate_all_gates() -> dict:
    """The nightly run: every active gate and segment for every partner."""
    summary = services.evaluate()
    return {
        "run": summary.run_id,
        "partners": summary.partners,
        "changed": summary.statuses_changed,
        "tiers": summary.tiers_changed,
        "skipped": summary.locked_out,
    }


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def evaluate_partners_task(partner_ids: list[int]) -> dict:
    """Partners whose facts changed (debounced by ``services.request_reevaluation``), in one evaluation."""
    services.clear_reevaluation_requests(partner_ids)
    summary = services.evaluate(partner_ids=partner_ids)
    return {
        "run": summary.run_id,
        "partners": summary.partners,
        "changed": summary.statuses_changed,
        "tiers": summary.tiers_changed,
    }


@shared_task(autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def evaluate_partner_task(partner_id: int) -> dict:
    """One partner, on request (the API's re-evaluate command)."""
    services.clear_reevaluation_requests([partner_id])
    summary = services.evaluate_partner(partner_id)
    return {"run": summary.run_id, "changed": summary.statuses_changed, "tiers": summary.tiers_changed}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, max_retries=5)
def evaluate_gate_task(gate_id: int) -> dict:
    summary = services.evaluate(gate_ids=[gate_id])
    return {"run": summary.run_id, "changed": summary.statuses_changed}


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def notify_partner_changes(partner_id: int, lines: list[str]) -> int:
    """Email a partner's admins and its channel manager what changed. Returns the recipients."""
    from partners.models import MembershipRole, Partner

    partner = Partner.objects.select_related("channel_manager").filter(pk=partner_id).first()
    if partner is None:
        return 0
    recipients = sorted(
        {
            email
            for email in partner.memberships.filter(
                role=MembershipRole.ADMIN, user__is_active=True
            ).values_list("user__email", flat=True)
            if email
        }
        | (
            {partner.channel_manager.email}
            if partner.channel_manager and partner.channel_manager.email
            else set()
        )
    )
    if not recipients:
        return 0
    body = "\n".join(f"• {line}" for line in lines)
    send_mail(
        subject=f"{partner.name}: your partner program status changed",
        message=f"Hello,\n\nRecent changes for {partner.name}:\n\n{body}\n\nSee the portal for details.\n",
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)
