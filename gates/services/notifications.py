"""The mail that tells partners what changed for them."""

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage, get_connection

from partners.models import Membership, MembershipRole, Partner

logger = logging.getLogger(__name__)


def changes_notify(changes: Sequence[Sequence[Any]]) -> tuple[int, list[list]]:
    """Mail each partner's active admins and its channel manager what changed for it.

    ``changes`` are [partner id, lines] pairs. Three queries and one mail
    connection whatever their number. Returns the recipients mailed, and the
    pairs whose mail failed (to try again); partners without recipients, or
    deleted since, are skipped.
    """
    lines_by_partner = {int(partner_id): list(lines) for partner_id, lines in changes}
    partners = Partner.objects.filter(pk__in=list(lines_by_partner)).select_related("channel_manager")
    admins: dict[int, set[str]] = defaultdict(set)
    for partner_id, email in Membership.objects.filter(
        partner_id__in=list(lines_by_partner), role=MembershipRole.ADMIN, user__is_active=True
    ).values_list("partner_id", "user__email"):
        if email:
            admins[partner_id].add(email)
    recipients_mailed = 0
    failed: list[list] = []
    with get_connection() as connection:
        for partner in partners.order_by("pk"):
            recipients = set(admins[partner.pk])
            if partner.channel_manager and partner.channel_manager.email:
                recipients.add(partner.channel_manager.email)
            if not recipients:
                continue
            lines = lines_by_partner[partner.pk]
            body = "\n".join(f"• {line}" for line in lines)
            message = EmailMessage(
                subject=f"{partner.name}: your partner program status changed",
                body=f"Hello,\n\nRecent changes for {partner.name}:\n\n{body}\n\nSee the portal for details.\n",
                to=sorted(recipients),
                connection=connection,
            )
            try:
                message.send()
            except OSError:
                logger.warning("the mail about partner %s's changes failed; it will be retried", partner.pk)
                failed.append([partner.pk, lines])
                continue
            recipients_mailed += len(recipients)
    return recipients_mailed, failed
