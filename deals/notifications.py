"""Emails about deal registrations.

A flagged registration's email to the channel manager names both partners;
the partners' own emails never name another partner.
"""

from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from deals.models import Deal
from partners.models import MembershipRole


def _partner_recipients(deal: Deal) -> set[str]:
    emails = set(
        deal.partner.memberships.filter(
            role__in=[MembershipRole.ADMIN, MembershipRole.SALES], user__is_active=True
        ).values_list("user__email", flat=True)
    )
    registrant = deal.registered_by
    if registrant is not None and registrant.email:
        emails.add(registrant.email)
    return {email for email in emails if email}


def _approver_recipients(deal: Deal) -> set[str]:
    emails: set[str] = set()
    manager = deal.partner.channel_manager
    if manager is not None and manager.email:
        emails.add(manager.email)
    if deal.partner.distributor_id and not deal.needs_review:
        users = get_user_model().objects.filter(
            membership__distributor_id=deal.partner.distributor_id, is_active=True
        )
        emails |= {email for email in users.values_list("email", flat=True) if email}
    return emails


def deal_event(deal_id: int, event: str) -> int:
    deal = (
        Deal.objects.select_related(
            "partner", "partner__channel_manager", "registered_by", "conflicts_with__partner"
        )
        .filter(pk=deal_id)
        .first()
    )
    if deal is None:
        return 0
    if event == "registered":
        recipients = _approver_recipients(deal)
        subject = f"Deal registration {deal.reference} from {deal.partner.name} awaits approval"
        body = (
            f"{deal.partner.name} registered {deal.customer_name} ({deal.customer_domain}), "
            f"{deal.expected_value:,.2f} {deal.currency}, expected to close on {deal.expected_close:%d %B %Y}."
        )
        if deal.needs_review and deal.conflicts_with is not None:
            body += (
                f"\n\nFlagged for review: {deal.conflicts_with.partner.name} already holds an active "
                f"registration on this customer ({deal.conflicts_with.reference})."
            )
    elif event in {"approved", "rejected"}:
        recipients = _partner_recipients(deal)
        subject = f"Deal registration {deal.reference} {event}"
        body = f"Your registration of {deal.customer_name} was {event}."
        if event == "approved" and deal.protected_until:
            body += f" It is protected until {deal.protected_until:%d %B %Y}."
        if event == "rejected":
            body += f"\n\nReason: {deal.rejection_reason}"
    else:
        raise ValueError(f"unknown deal event {event!r}")
    if not recipients:
        return 0
    send_mail(
        subject=subject,
        message=f"Hello,\n\n{body}\n\nSee the partner portal for details.\n",
        from_email=None,
        recipient_list=sorted(recipients),
    )
    return len(recipients)
