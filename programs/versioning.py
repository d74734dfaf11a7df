"""Versions of a definition's criteria: drafts, publishing from a date, and the history kept read-only.

Gates and segments keep their criteria the same way. A definition in use
(an active gate, a segment a program targets) is never edited in place:
editing saves the draft of its next version (one draft per definition,
edited until published); publishing makes it current from an effective
date, today or later, and the version before stays, read-only, as what
earlier results were decided under. Each kind of definition says how in a
``Versioned``; the gates describe theirs in ``gates.services.versions``,
segments theirs here.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from core.audit import audit
from programs.hooks import criteria_errors
from programs.models import CriteriaVersion, Segment, SegmentVersion, VersionState


class VersionError(Exception):
    """A version cannot be saved or published as asked; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _nothing(_owner: Any) -> None:
    return None


@dataclass(frozen=True)
class Versioned:
    """How one kind of definition keeps versions of its criteria.

    ``noun`` names its audit actions (``gate.version_published``);
    ``default_currency`` is the currency a version counts money in when the
    definition names none, ``stored_currency`` what the definition stores for a
    version's currency; ``after_current`` runs once a version became current
    (queueing what must follow, beyond what saving the definition queues).
    """

    noun: str
    owner_model: type[models.Model]
    version_model: type[CriteriaVersion]
    owner_field: str
    default_currency: Callable[[Any], str]
    stored_currency: Callable[[Any, str], str]
    after_current: Callable[[Any], None] = _nothing

    def versions(self, owner) -> models.QuerySet:
        return self.version_model._default_manager.filter(**{self.owner_field: owner})

    def owner_of(self, version) -> Any:
        return getattr(version, self.owner_field)


def next_version(kind: Versioned, owner) -> int:
    latest = kind.versions(owner).aggregate(latest=Max("version"))["latest"]
    return max(latest or 0, owner.version) + 1


def draft_save(kind: Versioned, *, actor, owner, criteria: Any, currency: str | None = None):
    """Save the criteria of the definition's next version as its draft (one draft, edited in place).

    The definition itself is left as it is: its partners are decided by the
    current version until the draft is published. Raises ``VersionError``
    for an invalid tree. Audited.
    """
    currency = currency if currency is not None else owner.currency
    counted_in = currency or kind.default_currency(owner)
    problems = criteria_errors(criteria, default_currency=counted_in)
    if problems:
        raise VersionError({"criteria": problems})
    with transaction.atomic():
        kind.owner_model._default_manager.select_for_update().filter(pk=owner.pk).first()
        draft = kind.versions(owner).filter(state=VersionState.DRAFT).first()
        if draft is None:
            draft = kind.version_model(
                **{kind.owner_field: owner}, version=next_version(kind, owner), state=VersionState.DRAFT
            )
        draft.criteria = criteria
        draft.currency = counted_in
        draft.save()
        audit(
            actor=actor,
            action=f"{kind.noun}.draft_saved",
            target=owner,
            version=draft.version,
            criteria=criteria,
        )
    return draft


def version_publish(kind: Versioned, *, actor, draft, effective_from: datetime.date | None = None):
    """Publish a draft: it becomes the definition's criteria on ``effective_from`` (today or later).

    Published today, the definition changes at once (and its partners are
    re-evaluated after commit); published for a later day, the version waits
    as scheduled until ``versions_apply_due`` reaches that day. The version
    before stays, read-only. Audited.
    """
    today = timezone.localdate()
    effective_from = effective_from or today
    if draft.state != VersionState.DRAFT:
        raise VersionError({"version": ["Only a draft is published; this version is read-only."]})
    if effective_from < today:
        raise VersionError({"effective_from": ["A version takes effect today or later, never in the past."]})
    with transaction.atomic():
        draft.effective_from = effective_from
        draft.published_at = timezone.now()
        draft.published_by = actor if getattr(actor, "pk", None) else None
        draft.state = VersionState.SCHEDULED
        draft.save(update_fields=["effective_from", "published_at", "published_by", "state"])
        audit(
            actor=actor,
            action=f"{kind.noun}.version_published",
            target=kind.owner_of(draft),
            version=draft.version,
            effective_from=effective_from.isoformat(),
        )
        if effective_from <= today:
            make_current(kind, draft)
    return draft


def make_current(kind: Versioned, version) -> None:
    owner: Any = kind.owner_model._default_manager.select_for_update().get(
        pk=getattr(version, f"{kind.owner_field}_id")
    )
    kind.versions(owner).filter(state=VersionState.CURRENT).update(state=VersionState.SUPERSEDED)
    version.state = VersionState.CURRENT
    version.save(update_fields=["state"])
    owner.criteria = version.criteria
    owner.currency = kind.stored_currency(owner, version.currency)
    owner.version = version.version
    owner._publishing = True
    owner.save(update_fields=["criteria", "currency", "version", "updated_at"])
    kind.after_current(owner)


def versions_apply_due(kind: Versioned, day: datetime.date | None = None) -> int:
    """Make current every published version whose day has come (the nightly run calls this first)."""
    day = day or timezone.localdate()
    due = list(
        kind.version_model._default_manager.filter(
            state=VersionState.SCHEDULED, effective_from__lte=day
        ).order_by(f"{kind.owner_field}_id", "version")
    )
    with transaction.atomic():
        for version in due:
            make_current(kind, version)
    return len(due)


def version_record(kind: Versioned, owner) -> None:
    """Keep the criteria of the definition's version as it is saved (the first save of a version
    records it; a version's criteria are what results were decided under, never overwritten)."""
    _, created = kind.version_model._default_manager.get_or_create(
        **{kind.owner_field: owner},
        version=owner.version,
        defaults={"criteria": owner.criteria, "currency": owner.currency or kind.default_currency(owner)},
    )
    if created:
        kind.versions(owner).filter(state=VersionState.CURRENT).exclude(version=owner.version).update(
            state=VersionState.SUPERSEDED
        )


SEGMENTS = Versioned(
    noun="segment",
    owner_model=Segment,
    version_model=SegmentVersion,
    owner_field="segment",
    default_currency=lambda segment: segment.currency,
    stored_currency=lambda _segment, currency: currency,
)


def segment_draft_save(
    *, actor, segment: Segment, criteria: Any, currency: str | None = None
) -> SegmentVersion:
    """The draft of a segment's next version; see ``draft_save``."""
    return draft_save(SEGMENTS, actor=actor, owner=segment, criteria=criteria, currency=currency)


def segment_version_publish(
    *, actor, draft: SegmentVersion, effective_from: datetime.date | None = None
) -> SegmentVersion:
    """Publish a segment's draft; saving the segment re-evaluates every partner after commit."""
    return version_publish(SEGMENTS, actor=actor, draft=draft, effective_from=effective_from)


def segment_versions_apply_due(day: datetime.date | None = None) -> int:
    return versions_apply_due(SEGMENTS, day)


def segment_saved(*, segment: Segment, criteria_before: tuple[Any, str] | None) -> None:
    """After a segment is saved: a segment not in use edited in place moves to its next version.

    ``criteria_before`` is the stored (criteria, currency) before the save,
    None for a new segment (which starts as version 1).
    """
    if criteria_before is not None and criteria_before != (segment.criteria, segment.currency):
        Segment.objects.filter(pk=segment.pk).update(version=next_version(SEGMENTS, segment))
        segment.refresh_from_db(fields=["version"])
        version_record(SEGMENTS, segment)


def segment_version_record(*, sender, instance, raw: bool = False, **_kwargs) -> None:
    """Signal receiver on every segment save: its version's criteria are kept (``version_record``)."""
    if raw:
        return  # fixtures being loaded
    version_record(SEGMENTS, instance)
