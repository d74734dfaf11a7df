"""How onboarding hears of what may tick a checklist item (connected in ``OnboardingConfig.ready``):
a completed course (``facts_changed`` from enablement) and a registered deal (the outbox's
``deal.submitted``). The checklist is looked at after commit, in a task."""

from django.db import transaction

from core.background import task
from events.models import OutboxEvent

# Facts whose change may tick an item: completions of courses.
TICKING_FACTS = ("enablement.completion",)


def _refresh_after_commit(partner_ids) -> None:
    ids = sorted({int(pk) for pk in partner_ids if pk is not None})
    if ids:
        refresh = task("onboarding.tasks.refresh_checklists")
        transaction.on_commit(lambda: refresh.delay(ids))


def on_facts_changed(*, sender, partner_ids, **_kwargs) -> None:
    if sender._meta.label_lower in TICKING_FACTS:
        _refresh_after_commit(partner_ids)


def on_events_committed(*, sender, event_ids: list[str], **_kwargs) -> None:

    partner_ids = OutboxEvent.objects.filter(pk__in=event_ids, event_type="deal.submitted").values_list(
        "partner_id", flat=True
    )
    ids = sorted({pk for pk in partner_ids if pk is not None})
    if ids:
        task("onboarding.tasks.refresh_checklists").delay(ids)
