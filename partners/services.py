"""Writes to partners, their facts entered by hand, and their reference data."""

from collections.abc import Collection, Iterable
from typing import TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from core.audit import audit
from core.exchange import daily_rates_rebuild
from core.models import ExchangeRate
from core.states import require_move
from partners.models import PARTNER_STATE_MOVES, Certification, LifecycleStatus, Partner
from partners.models.organisations import partner_move_refusal
from partners.signals import facts_changed


def fact_partner_id(fact: models.Model) -> int | None:
    """The partner a fact (or a partner, or a person) belongs to."""
    if isinstance(fact, Partner):
        return fact.pk
    if isinstance(fact, Certification):
        return fact.person.partner_id
    return fact.partner_id  # type: ignore[attr-defined]


def _stored_partner_id(fact: models.Model) -> int | None:
    if fact.pk is None:
        return None
    stored = type(fact)._default_manager.select_related().filter(pk=fact.pk).first()
    return fact_partner_id(stored) if stored is not None else None


def fact_save(*, actor, fact: models.Model, principal=None) -> models.Model:
    """Save a partner, a person or a fact entered or corrected by hand, and re-decide its partner.

    A fact moved from one partner to another re-evaluates both. The door decides
    first: ``principal`` (the token, or the actor by default) must be allowed to
    change the stored row, and to send facts for the partner it now belongs to;
    otherwise ``PermissionDenied`` and nothing is written. The record says who
    and what; the history keeps the values before and after.
    """
    principal = principal if principal is not None else actor
    created = fact.pk is None
    manager = type(fact)._default_manager
    if not created and not manager.allows(principal, "change", fact):  # type: ignore[attr-defined]
        raise PermissionDenied("You may not change this record.")
    partner_id = fact_partner_id(fact) if not isinstance(fact, Partner) or not created else None
    if (
        partner_id is not None
        and not Partner.objects.actionable_by(principal, "send_facts").filter(pk=partner_id).exists()
    ):
        raise PermissionDenied("You may not record facts for this partner.")
    with transaction.atomic():
        before = _stored_partner_id(fact)
        fact.save()
        audit(
            actor=actor,
            action=f"{fact._meta.model_name}.{'created' if created else 'changed'}",
            target=fact,
            source=getattr(fact, "source", ""),
            external_id=getattr(fact, "external_id", ""),
        )
        facts_changed.send(sender=type(fact), partner_ids={fact_partner_id(fact), before} - {None})
    return fact


def facts_delete(*, actor, facts: Iterable[models.Model], principal=None) -> int:
    """Delete facts (a cancelled sale, a revoked certification) and re-evaluate their partners once.

    All or nothing: if the door refuses ``principal`` any of them, ``PermissionDenied``
    and nothing is deleted. Returns how many were deleted.
    """
    principal = principal if principal is not None else actor
    facts = list(facts)
    if not facts:
        return 0
    model = type(facts[0])
    allowed = set(
        model._default_manager.actionable_by(principal, "delete")  # type: ignore[attr-defined]
        .filter(pk__in=[fact.pk for fact in facts])
        .values_list("pk", flat=True)
    )
    if any(fact.pk not in allowed for fact in facts):
        raise PermissionDenied("You may not delete this record.")
    partner_ids = {fact_partner_id(fact) for fact in facts} - {None}
    with transaction.atomic():
        for fact in facts:
            audit(
                actor=actor,
                action=f"{model._meta.model_name}.deleted",
                target=fact,
                source=getattr(fact, "source", ""),
                external_id=getattr(fact, "external_id", ""),
            )
        model._default_manager.filter(pk__in=allowed).delete()
        facts_changed.send(sender=model, partner_ids=partner_ids)
    return len(facts)


def exchange_rate_save(*, actor, rate: ExchangeRate) -> ExchangeRate:
    """Save a rate and rebuild its currency's daily table in the same transaction.

    Sales already recorded in the currency are converted at the new rate from
    the next evaluation on. The gates, which listen for rate changes, queue
    that evaluation after commit; it decides again only the partners whose
    converted amounts moved.
    """
    with transaction.atomic():
        rate.full_clean()
        rate.save()
        daily_rates_rebuild(rate.currency)
        audit(
            actor=actor,
            action="exchange_rate.saved",
            target=rate,
            currency=rate.currency,
            valid_from=rate.valid_from.isoformat(),
            rate=str(rate.rate),
        )
    return rate


def exchange_rate_delete(*, actor, rate: ExchangeRate) -> None:
    with transaction.atomic():
        audit(
            actor=actor,
            action="exchange_rate.deleted",
            target=rate,
            currency=rate.currency,
            valid_from=rate.valid_from.isoformat(),
            rate=str(rate.rate),
        )
        currency = rate.currency
        rate.delete()
        daily_rates_rebuild(currency)


OUT_OF_COVERAGE = (
    "This partner would be outside what you cover: choose a region you cover, "
    "or make yourself its channel manager."
)


def partner_save(*, actor, partner: Partner, principal=None) -> Partner:
    """Create or change a partner outside the admin (the API), by the rules the admin keeps.

    ``partner`` has passed ``full_clean()``; its status is the stored one (it
    changes only through ``partner_move``). Changing needs the door's ``change``
    (``fact_save`` checks it). The saved partner must stay where ``principal``
    can see it, as the admin's coverage check has it: otherwise a
    ``ValidationError`` and nothing is written. Audited and re-evaluated after
    commit, as every partner change.
    """
    principal = principal if principal is not None else actor
    with transaction.atomic():
        fact_save(actor=actor, fact=partner, principal=principal)
        if not Partner.objects.visible_to(principal).filter(pk=partner.pk).exists():
            raise ValidationError(OUT_OF_COVERAGE)
    return partner


# The vendor's codes facts and criteria name: what ``reference_save`` writes.
REFERENCE_CODES = ("productline", "certificationtype", "activitytype", "serviceoffering")

_Reference = TypeVar("_Reference", bound=models.Model)


def _reference_name(reference: models.Model) -> str:
    name = reference._meta.model_name
    if reference._meta.app_label != "partners" or name not in REFERENCE_CODES:
        raise TypeError(f"{reference._meta.label} is not a reference code")
    return str(name)


def reference_save(*, actor, reference: _Reference, created: bool, fields: Iterable[str] = ()) -> _Reference:
    """Save a validated product line, certification type, activity type or service offering.

    Precondition: the code passed ``full_clean``. Side effects: an audit entry;
    the gates, which listen for changes to the codes, re-evaluate after commit.
    """
    name = _reference_name(reference)
    with transaction.atomic():
        reference.save()
        audit(
            actor=actor,
            action=f"{name}.created" if created else f"{name}.changed",
            target=reference,
            code=getattr(reference, "code", ""),
            fields=sorted(fields),
        )
    return reference


def reference_delete(*, actor, reference: models.Model) -> None:
    """Delete a code; the database refuses one that facts still name (``ProtectedError``)."""
    name = _reference_name(reference)
    with transaction.atomic():
        audit(actor=actor, action=f"{name}.deleted", target=reference, code=getattr(reference, "code", ""))
        reference.delete()


def partner_move(
    *,
    actor,
    partner: Partner,
    status: str,
    reason: str = "",
    principal=None,
    from_statuses: Collection[str] | None = None,
    refused: str = "",
) -> Partner:
    """Move a partner along its lifecycle: onboard, activate, suspend, reinstate, terminate.

    The move must be in ``PARTNER_STATE_MOVES`` and, when ``from_statuses`` is
    given (a reinstatement starts from a suspension), start from one of them:
    otherwise a ``conflict`` (with ``refused`` as its message, if given), checked
    under the partner's lock. The door must let ``principal`` (the token, or the
    actor) change the partner (otherwise ``PermissionDenied``). The status is a
    partner attribute gates and segments read, so the partner is re-evaluated
    after commit. The record keeps the reason.
    """
    principal = principal if principal is not None else actor
    status = LifecycleStatus(status)
    if not Partner.objects.allows(principal, "change", partner):
        raise PermissionDenied("You may not change this partner.")
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if from_statuses is not None and locked.status not in from_statuses:
            raise ValidationError(refused or partner_move_refusal(locked.status, status), code="conflict")
        require_move(
            PARTNER_STATE_MOVES, locked.status, status, refused=partner_move_refusal(locked.status, status)
        )
        before = locked.status
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        audit(
            actor=actor,
            action="partner.status_changed",
            target=locked,
            before=before,
            after=status.value,
            reason=reason,
        )
        facts_changed.send(sender=Partner, partner_ids=[locked.pk])
    partner.status = locked.status
    return partner
