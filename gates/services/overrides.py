"""Tier overrides: a channel manager decides the tier a partner holds."""

import datetime

from django.db import transaction
from django.utils import dateformat, timezone

from core.audit import audit
from gates import events as gate_events
from gates.forecast import request_forecast
from gates.models import PartnerTier, TierChange, TierChangeReason
from gates.planning import notify_changes
from gates.services.runs import evaluate
from partners.models import Partner


def tier_override_set(
    *, actor, partner: Partner, program, tier, reason: str, expires_on: datetime.date | None
):
    """A channel manager decides the tier a partner holds, with a reason and an optional expiry.

    Records the change in the tier history and the audit log, and brings the
    partner's benefits in line in the same transaction. Setting the override
    the partner already has (same tier, reason and expiry) writes nothing and
    tells nobody. Raises ``ValueError`` for a tier of another program, an empty
    reason or a past expiry. The partner is forecast again after commit: a
    tier the override holds is not at risk while it holds.
    """
    if tier.program_id != program.id:
        raise ValueError("The tier belongs to another program.")
    if not reason.strip():
        raise ValueError("Give the reason for the override.")
    today = timezone.localdate()
    if expires_on is not None and expires_on < today:
        raise ValueError("The override would already have expired.")
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).exists()
        row, _ = PartnerTier.objects.get_or_create(partner=partner, program=program)
        if (row.override_tier_id, row.override_reason, row.override_expires_on) == (
            tier.id,
            reason.strip(),
            expires_on,
        ):
            return row
        before = row.tier_id
        row.override_tier = tier
        row.override_reason = reason.strip()
        row.override_expires_on = expires_on
        row.override_by = actor if getattr(actor, "is_authenticated", False) else None
        if row.tier_id != tier.id:
            row.tier = tier
            row.since = today
        row.save()
        until = f" until {dateformat.format(expires_on, 'j F Y')}" if expires_on else ""
        TierChange.objects.create(
            partner=partner,
            program=program,
            from_tier_id=before,
            to_tier=tier,
            reason=TierChangeReason.OVERRIDE_SET,
            effective_on=today,
            actor=row.override_by,
            note=f"{reason.strip()}{until}",
        )
        gate_events.tier_override_events(
            partner_id=partner.pk,
            program_id=program.pk,
            from_tier_id=before,
            to_tier_id=tier.id,
            reason="override_set",
        )
        audit(
            actor=actor,
            action="tier.override_set",
            target=row,
            tier=tier.name,
            reason=reason.strip(),
            expires_on=expires_on.isoformat() if expires_on else None,
        )
        evaluate(partner_ids=[partner.pk], as_of=today)
        # An override decides whether the partner's tier is at risk: forecast it again.
        request_forecast([partner.pk])
        message = f"Your tier in {program.name} is set to {tier.name} by your channel manager{until}."
        transaction.on_commit(lambda: notify_changes({partner.pk: [message]}))
    return row


def tier_override_clear(*, actor, partner_tier: PartnerTier, note: str = "") -> PartnerTier:
    """End an override now; the tier the gates earn applies again, with its benefits."""
    today = timezone.localdate()
    with transaction.atomic():
        row = PartnerTier.objects.select_for_update().get(pk=partner_tier.pk)
        if row.override_tier_id is None:
            return row
        before = row.tier_id
        row.override_tier = None
        row.override_reason = ""
        row.override_expires_on = None
        row.override_by = None
        row.tier_id = row.earned_tier_id
        if before != row.tier_id:
            row.since = today
        row.save()
        TierChange.objects.create(
            partner_id=row.partner_id,
            program_id=row.program_id,
            from_tier_id=before,
            to_tier_id=row.tier_id,
            reason=TierChangeReason.OVERRIDE_ENDED,
            effective_on=today,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            note=note,
        )
        gate_events.tier_override_events(
            partner_id=row.partner_id,
            program_id=row.program_id,
            from_tier_id=before,
            to_tier_id=row.tier_id,
            reason="override_ended",
        )
        audit(actor=actor, action="tier.override_cleared", target=row, note=note)
        evaluate(partner_ids=[row.partner_id], as_of=today)
        request_forecast([row.partner_id])
    return row
