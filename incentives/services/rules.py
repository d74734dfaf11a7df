"""Rule versions and saves: the terms of a rule change by new versions once money was earned under them."""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit
from incentives.models import (
    CommissionRate,
    IncentiveRule,
    LedgerEntry,
    MarginRate,
    RebateBand,
    Reward,
    RuleKind,
)


def rule_new_version(
    *, actor, rule: IncentiveRule, effective_from: datetime.date, today: datetime.date | None = None
) -> IncentiveRule:
    """Change a rule from a date on: the current version ends the day before, a copy starts that day.

    The copy (rates, bands, activity types and active rewards included) is
    editable until it starts; the past stays paid under the old terms.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        rule = IncentiveRule.objects.select_for_update().get(pk=rule.pk)
        if effective_from < today:
            raise ValidationError(
                {"effective_from": "A new version starts today or later: the past stays as it was paid."}
            )
        if effective_from <= rule.effective_from:
            raise ValidationError(
                {
                    "effective_from": f"The new version must start after this one did ({rule.effective_from:%d %b %Y})."
                }
            )
        last_day = effective_from - datetime.timedelta(days=1)
        paid_until = (
            LedgerEntry.objects.filter(rule=rule)
            .order_by("-event_on")
            .values_list("event_on", flat=True)
            .first()
        )
        if paid_until is not None and paid_until > last_day:
            # What the rule has paid refuses the date (409), not the request's form.
            raise ValidationError(
                {
                    "effective_from": ValidationError(
                        f"This rule has already paid for facts dated {paid_until:%d %b %Y}; start after that.",
                        code="conflict",
                    )
                }
            )
        old_end = rule.effective_to
        new_end = old_end if old_end is not None and old_end >= effective_from else None
        if rule.kind == RuleKind.SPIF and new_end is None:
            raise ValidationError(
                {"effective_from": "This SPIF ends before that day: create a new SPIF instead."}
            )
        if old_end is None or old_end >= effective_from:
            IncentiveRule.objects.filter(pk=rule.pk).update(effective_to=last_day, updated_at=timezone.now())
        margin_rates = list(rule.margin_rates.all())
        commission_rates = list(rule.commission_rates.all())
        bands = list(rule.rebate_bands.all())
        activity_types = list(rule.activity_types.all())
        rewards = list(rule.rewards.filter(is_active=True))
        copy = IncentiveRule.objects.get(pk=rule.pk)
        copy.pk = None
        copy.id = None
        copy._state.adding = True
        copy.effective_from = effective_from
        copy.effective_to = new_end
        copy.supersedes = rule
        copy.created_by = actor if getattr(actor, "is_authenticated", False) else None
        copy.save()
        children: list[Any] = [*margin_rates, *commission_rates, *bands, *rewards]
        for child in children:
            child.pk = None
            child._state.adding = True
            child.rule = copy
            child.save()
        copy.activity_types.set(activity_types)
        rule.rewards.filter(is_active=True).update(is_active=False)
        audit(
            actor=actor,
            action="incentives.rule_versioned",
            target=copy,
            supersedes=rule.pk,
            effective_from=str(effective_from),
        )
    return copy


def rule_save(
    *,
    actor,
    rule: IncentiveRule,
    created: bool,
    margin_rates: list[dict] | None = None,
    commission_rates: list[dict] | None = None,
    rebate_bands: list[dict] | None = None,
    rewards: list[dict] | None = None,
    activity_types: list | None = None,
) -> IncentiveRule:
    """Save a validated rule and, for each list given, replace its rows with it.

    Preconditions: the rule passed ``full_clean`` and the rows the shared
    validation (the API serializer and the admin do both); a rule whose terms
    are locked gets no new rates or bands (the validation refuses it).
    """
    with transaction.atomic():
        if created:
            rule.created_by = actor if getattr(actor, "is_authenticated", False) else None
        rule.save()
        tables: list[tuple[Any, list[dict] | None]] = [
            (MarginRate, margin_rates),
            (CommissionRate, commission_rates),
            (RebateBand, rebate_bands),
        ]
        for model, rows in tables:
            if rows is not None:
                model.objects.filter(rule=rule).delete()
                model.objects.bulk_create([model(rule=rule, **row) for row in rows])
        if rewards is not None:
            keep = []
            for row in rewards:
                reward_id = row.pop("id", None)
                existing = rule.rewards.filter(pk=reward_id).first() if reward_id else None
                if existing is None:
                    existing = Reward(rule=rule)
                for name, value in row.items():
                    setattr(existing, name, value)
                existing.save()
                keep.append(existing.pk)
            # Rewards already redeemed are kept (redemptions point at them), just withdrawn.
            rule.rewards.exclude(pk__in=keep).update(is_active=False)
        if activity_types is not None:
            rule.activity_types.set(activity_types)
        audit(
            actor=actor,
            action="incentives.rule_created" if created else "incentives.rule_changed",
            target=rule,
        )
    return rule
