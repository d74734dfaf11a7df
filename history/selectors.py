"""Reading the history: who changed what, when, through which door, from which values to which.

Each tracked model has its own event table holding the row as it was after an
insert or update, and before a delete. A change's "before" is the previous
event of the same row, its "after" the event itself (nothing after a delete).
Lists read every event table at once (one ``UNION ALL``), then load the page's
rows, their previous rows and contexts: a page costs a handful of queries
whatever its length.
"""

import datetime
import decimal
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pghistory.core
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import CharField, OuterRef, Q, Subquery, Value
from pghistory.models import Context

ACTIONS = {"insert": "created", "update": "changed", "delete": "deleted"}


@dataclass
class Change:
    event_id: str  # "<event model label>:<event id>", stable and unique
    model: str  # the tracked model's label, e.g. "programs.program"
    model_name: str  # its verbose name
    object_id: str
    action: str  # created, changed, deleted
    at: datetime.datetime
    actor_id: int | None = None
    actor: str = ""
    door: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    @property
    def changed_fields(self) -> list[str]:
        before, after = self.before or {}, self.after or {}
        return [name for name in {**before, **after} if before.get(name) != after.get(name)]

    @property
    def differences(self) -> list[tuple[str, Any, Any]]:
        before, after = self.before or {}, self.after or {}
        return [(name, before.get(name), after.get(name)) for name in self.changed_fields]


def event_models() -> list[Any]:
    """Every event model (generated classes: typed loosely, they carry ``pgh_tracked_model``)."""
    return sorted(pghistory.core.event_models(), key=lambda m: m._meta.label)


def tracked_label(event_model: Any) -> str:
    return event_model.pgh_tracked_model._meta.concrete_model._meta.label_lower  # type: ignore[attr-defined]


def tracked_models() -> dict[str, str]:
    """Label -> verbose name of every model whose rows are recorded."""
    return {
        tracked_label(m): str(m.pgh_tracked_model._meta.concrete_model._meta.verbose_name)  # type: ignore[attr-defined]
        for m in event_models()
    }


def _tracked_fields(event_model) -> list[models.Field]:
    tracked = {f.name for f in event_model.pgh_tracked_model._meta.concrete_model._meta.concrete_fields}
    return [f for f in event_model._meta.concrete_fields if f.name in tracked]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _values(event_model, row: dict[str, Any]) -> dict[str, Any]:
    return {f.name: _plain(row[f.attname]) for f in _tracked_fields(event_model)}


def _event_rows(event_model, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The events ``ids`` with the id of each one's previous event of the same row."""
    previous = (
        event_model._default_manager.filter(pgh_obj_id=OuterRef("pgh_obj_id"), pgh_id__lt=OuterRef("pgh_id"))
        .order_by("-pgh_id")
        .values("pgh_id")[:1]
    )
    columns = ["pgh_id", "pgh_label", "pgh_obj_id", "pgh_created_at", "pgh_context_id"]
    columns += [f.attname for f in _tracked_fields(event_model)]
    rows = event_model._default_manager.filter(pgh_id__in=ids).annotate(previous_id=Subquery(previous))
    return {row["pgh_id"]: row for row in rows.values(*columns, "previous_id")}


def _hydrate(keys: Iterable[tuple[Any, int]]) -> list[Change]:
    keys = list(keys)
    by_model: dict[Any, list[int]] = defaultdict(list)
    for event_model, event_id in keys:
        by_model[event_model].append(event_id)
    rows: dict[tuple[Any, int], dict] = {}
    previous: dict[tuple[Any, int], dict] = {}
    for event_model, ids in by_model.items():
        found = _event_rows(event_model, ids)
        rows.update({(event_model, i): row for i, row in found.items()})
        earlier = [row["previous_id"] for row in found.values() if row["previous_id"] is not None]
        columns = [f.attname for f in _tracked_fields(event_model)]
        if earlier:
            for row in event_model._default_manager.filter(pgh_id__in=earlier).values("pgh_id", *columns):
                previous[(event_model, row["pgh_id"])] = row
    context_ids = {row["pgh_context_id"] for row in rows.values() if row["pgh_context_id"] is not None}
    contexts = {c.id: c.metadata for c in Context.objects.filter(id__in=context_ids)}
    user_ids = {m.get("user") for m in contexts.values() if isinstance(m.get("user"), int)}
    users = dict(get_user_model()._default_manager.filter(pk__in=user_ids).values_list("pk", "username"))
    changes = []
    for event_model, event_id in keys:
        found_row = rows.get((event_model, event_id))
        if found_row is None:
            continue
        row = found_row
        metadata = dict(contexts.get(row["pgh_context_id"], {}))
        actor_id = metadata.pop("user", None)
        door = metadata.pop("door", "") or ""
        values = _values(event_model, row)
        before_row = previous.get((event_model, row["previous_id"]))
        before = _values(event_model, before_row) if before_row is not None else None
        label = row["pgh_label"]
        tracked = event_model.pgh_tracked_model._meta.concrete_model
        changes.append(
            Change(
                event_id=f"{event_model._meta.label_lower}:{event_id}",
                model=tracked._meta.label_lower,
                model_name=str(tracked._meta.verbose_name),
                object_id=str(row["pgh_obj_id"]),
                action=ACTIONS.get(label, label),
                at=row["pgh_created_at"],
                actor_id=actor_id if isinstance(actor_id, int) else None,
                actor=users.get(actor_id, "") if isinstance(actor_id, int) else "",
                door=door,
                context=metadata,
                before=values if label == "delete" else before,
                after=None if label == "delete" else values,
            )
        )
    return changes


@dataclass(frozen=True)
class HistoryFilter:
    model: str | None = None  # a tracked model's label
    object_id: int | None = None
    actor_id: int | None = None
    door: str | None = None
    since: datetime.datetime | None = None  # changes recorded at or after this moment


def _matching(event_model, flt: HistoryFilter) -> models.QuerySet:
    queryset = event_model._default_manager.all()
    if flt.object_id is not None:
        queryset = queryset.filter(pgh_obj_id=flt.object_id)
    if flt.actor_id is not None:
        queryset = queryset.filter(pgh_context__metadata__user=flt.actor_id)
    if flt.door:
        queryset = queryset.filter(pgh_context__metadata__door=flt.door)
    if flt.since is not None:
        queryset = queryset.filter(pgh_created_at__gte=flt.since)
    return queryset


def history(flt: HistoryFilter = HistoryFilter()) -> models.QuerySet:
    """Every recorded change matching ``flt``, newest first, as rows ``(event_model, pgh_id, at)``.

    Slice it for a page and pass the page to ``changes()``. One query for the
    page whatever the number of event tables (a ``UNION ALL``), one for a count.
    """
    chosen = [m for m in event_models() if flt.model is None or tracked_label(m) == flt.model]
    parts = [
        _matching(m, flt)
        .annotate(event_model=Value(m._meta.label_lower, output_field=CharField()))
        .values("event_model", "pgh_id", "pgh_created_at")
        for m in chosen
    ]
    first, *rest = parts
    return (
        first.union(*rest, all=True).order_by("-pgh_created_at", "-pgh_id")
        if rest
        else first.order_by("-pgh_created_at", "-pgh_id")
    )


def changes(page: Iterable[dict[str, Any]]) -> list[Change]:
    """The changes of a page of ``history()`` rows, with their before and after values."""
    by_label = {m._meta.label_lower: m for m in event_models()}
    return _hydrate((by_label[row["event_model"]], row["pgh_id"]) for row in page)


def object_history(obj: models.Model, *, limit: int = 500) -> list[Change]:
    """Changes of ``obj``: its own rows, and the links of its many-to-many fields (either side)."""
    concrete = obj._meta.concrete_model
    keys: list[tuple[Any, Any]] = []
    for event_model in event_models():
        tracked = event_model.pgh_tracked_model._meta.concrete_model
        if tracked is concrete:
            condition = Q(pgh_obj_id=obj.pk)
        elif tracked._meta.auto_created:
            links = [f for f in _tracked_fields(event_model) if f.is_relation and f.related_model is concrete]
            if not links:
                continue
            condition = Q()
            for link in links:
                condition |= Q(**{link.attname: obj.pk})
        else:
            continue
        for pgh_id, at in event_model._default_manager.filter(condition).values_list(
            "pgh_id", "pgh_created_at"
        )[:limit]:
            keys.append(((event_model, pgh_id), at))
    keys.sort(key=lambda item: (item[1], item[0][1]), reverse=True)
    return _hydrate(key for key, _ in keys[:limit])
