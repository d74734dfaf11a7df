"""The history in the admin: a "History" page per object, and one log of every change.

Django's "History" button on a change page opens ``history_view``; for a
tracked model it shows the recorded changes of the row (and of its
many-to-many links) with their before and after values, read through the
model admin's own ``get_object``, so coverage applies as on the change page.
The log at ``/admin/history/`` lists every change, filtered by actor, model,
object and door; it spans all partners, so it needs the permission to view
history contexts (``pghistory.view_context``), which superusers hold.
"""

from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.template.response import TemplateResponse

from history.context import Door
from history.fallback import event_model_for
from history.selectors import HistoryFilter, changes, history, object_history, tracked_models

if TYPE_CHECKING:
    from django.contrib.admin.options import ModelAdmin as _AdminBase
else:
    _AdminBase = object

READ_PERMISSION = "pghistory.view_context"
PAGE = 100


def may_read_log(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(READ_PERMISSION))


class HistoryAdminMixin(_AdminBase):
    """The recorded changes of an object on its "History" page (Django's admin log for the rest)."""

    def history_view(self, request, object_id, extra_context=None):
        if event_model_for(self.model) is None:
            return super().history_view(request, object_id, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)  # type: ignore[attr-defined]
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.model._meta,
            "changes": object_history(obj),
            "may_read_log": may_read_log(request.user),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/history/object_history.html", context)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def log_view(request):
    """Every recorded change, newest first, filtered by ``actor``, ``model``, ``object`` and ``door``."""
    if not may_read_log(request.user):
        raise PermissionDenied
    models = tracked_models()
    model = request.GET.get("model") or None
    door = request.GET.get("door") or None
    flt = HistoryFilter(
        model=model if model in models else None,
        object_id=_int(request.GET.get("object")) if model in models else None,
        actor_id=_int(request.GET.get("actor")),
        door=door if door in Door.ALL else None,
    )
    paginator = Paginator(history(flt), PAGE)
    page = paginator.get_page(request.GET.get("page"))
    actor = get_user_model()._default_manager.filter(pk=flt.actor_id).first() if flt.actor_id else None
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **admin.site.each_context(request),
        "title": "History of definitions and facts",
        "changes": changes(page.object_list),
        "page": page,
        "models": sorted(models.items(), key=lambda item: item[1]),
        "doors": Door.ALL,
        "filter": flt,
        "actor": actor,
        "query": query.urlencode(),
    }
    return TemplateResponse(request, "admin/history/log.html", context)
