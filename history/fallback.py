"""The history on databases without pghistory's triggers (the SQLite demo and the default test run).

PostgreSQL records every tracked row with triggers, whatever wrote it. SQLite
has no PL/pgSQL, so there the ORM's signals write the same event rows, with
the same context, for ``save()``, ``delete()`` and many-to-many changes;
``record_rows`` is called by the bulk writers for their ``bulk_create`` and
``bulk_update`` paths. Raw SQL and ``QuerySet.update`` pass unseen there:
that is the gap the triggers close on PostgreSQL, which production runs.
"""

import functools
from collections.abc import Iterable
from typing import Any

import pghistory.core
from django.db import connection, models
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from pghistory.models import Context

from history.context import current, triggers_record
from history.tracking import SPECS


@functools.cache
def _event_models() -> dict[Any, Any]:
    # Keyed by the concrete model: a proxy (guardian's grants) records its table's rows.
    found: list[Any] = pghistory.core.event_models()
    return {event_model.pgh_tracked_model._meta.concrete_model: event_model for event_model in found}


def event_model_for(model: type[models.Model]) -> Any:
    """The event model recording ``model``'s rows, or None when it is not tracked."""
    return _event_models().get(model._meta.concrete_model)


def _context_id():
    context = current()
    if context is None:
        return None
    Context.objects.update_or_create(id=context.id, defaults={"metadata": context.metadata})
    return context.id


def _snapshot(event_model, instance) -> dict:
    tracked = event_model.pgh_tracked_model
    names = {f.name for f in tracked._meta.concrete_fields}
    return {
        f.attname: getattr(instance, f.attname) for f in event_model._meta.concrete_fields if f.name in names
    }


def _changed(event_model, instance) -> bool:
    spec = SPECS.get(event_model._meta.label)
    last = event_model.objects.filter(pgh_obj_id=instance.pk).order_by("-pgh_id").first()
    if last is None or spec is None:
        return True
    tracked = {f.name for f in event_model.pgh_tracked_model._meta.concrete_fields}
    for field in event_model._meta.concrete_fields:
        if field.name not in tracked or field.name in spec.ignore:
            continue
        if spec.changes and field.name not in spec.changes:
            continue
        if getattr(last, field.attname) != getattr(instance, field.attname):
            return True
    return False


def record(event_model, instance, label: str, *, context_id=None, at=None) -> None:
    event = event_model(
        pgh_label=label,
        pgh_created_at=at or timezone.now(),
        pgh_obj_id=instance.pk,
        pgh_context_id=context_id if context_id is not None else _context_id(),
        **_snapshot(event_model, instance),
    )
    # Raw: the values as they are, as a trigger copies them (the event model's
    # copy of an ``auto_now`` field would otherwise stamp the time of recording).
    event.save_base(raw=True)


def record_rows(model: type[models.Model], instances: Iterable[models.Model], label: str) -> None:
    """Record rows written in bulk (``bulk_create``/``bulk_update``); the triggers do it on PostgreSQL."""
    event_model = event_model_for(model)
    if event_model is None or triggers_record():
        return
    context_id, now = _context_id(), timezone.now()
    for instance in instances:
        if label != "update" or _changed(event_model, instance):
            record(event_model, instance, label, context_id=context_id, at=now)


def _saved(sender, instance, created, raw=False, **kwargs) -> None:
    if triggers_record():
        return
    event_model = event_model_for(sender)
    if event_model is None:
        return
    if created:
        record(event_model, instance, "insert")
    elif _changed(event_model, instance):
        record(event_model, instance, "update")


def _deleted(sender, instance, **kwargs) -> None:
    if triggers_record():
        return
    event_model = event_model_for(sender)
    if event_model is not None:
        record(event_model, instance, "delete")


def _links_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """Many-to-many links: the through rows added after an add, those going before a remove or clear."""
    if triggers_record() or action not in ("post_add", "pre_remove", "pre_clear"):
        return
    event_model = event_model_for(sender)
    if event_model is None:
        return
    field = next(
        f for f in sender._meta.auto_created._meta.local_many_to_many if f.remote_field.through is sender
    )
    own, other = field.m2m_column_name(), field.m2m_reverse_name()
    if reverse:
        own, other = other, own
    rows = sender._default_manager.filter(**{own: instance.pk})
    if pk_set is not None and action != "pre_clear":
        rows = rows.filter(**{f"{other}__in": pk_set})
    label = "insert" if action == "post_add" else "delete"
    for row in rows:
        record(event_model, row, label)


def connect() -> None:
    if connection.vendor == "postgresql":
        # One database per process: the triggers record everything, no receivers needed.
        return
    for tracked in _event_models():
        if tracked._meta.auto_created:
            m2m_changed.connect(_links_changed, sender=tracked, weak=False)
        else:
            post_save.connect(_saved, sender=tracked, weak=False)
            post_delete.connect(_deleted, sender=tracked, weak=False)
