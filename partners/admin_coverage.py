"""Coverage in the admin: every page reads, offers and writes through the models' ``visible_to`` door.

A channel manager covering EMEA must not read, change, delete or add
anything for another region's partners in the admin, exactly as in the
portal and the API. ``CoverageAdminMixin`` (for model admins) and
``CoverageInlineMixin`` (for inlines) give every admin class

* a queryset narrowed by ``partners.selectors.visible``: changelists, change,
  delete and history pages, actions and the autocomplete all start from it, so
  an object outside the user's coverage is absent from lists and answers like
  a missing one by URL;
* foreign-key and many-to-many choices narrowed the same way, so a form refuses
  an out-of-coverage id even when it is posted directly past the autocomplete;
* related list filters that offer only what the user sees;
* per-object view, change and delete permissions that hold outside the
  changelist too (other admin views, the cascade of a deletion);
* a last check that a save leaves the object where its author can still see
  it: a change that would move it out of his coverage is refused.

A test walks every registered admin with these expectations, so an admin
that does not build on them fails it.
"""

from collections import defaultdict
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin
from django.contrib.admin.utils import NestedObjects, get_fields_from_path, quote
from django.core.exceptions import PermissionDenied
from django.db import router
from django.forms import ModelChoiceField
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from history.admin import HistoryAdminMixin
from partners.selectors import has_door, visible

if TYPE_CHECKING:
    from django.contrib.admin.options import BaseModelAdmin as _Base
    from django.contrib.admin.options import InlineModelAdmin as _InlineBase
    from django.contrib.admin.options import ModelAdmin as _AdminBase
else:
    _Base = _AdminBase = _InlineBase = object

_CHECKED = "_prm_coverage_checked"


def _checked(request) -> dict[tuple[str, Any], bool]:
    return request.__dict__.setdefault(_CHECKED, {})


def covers(request, obj) -> bool:
    """Whether the user of ``request`` sees ``obj`` through its model's door; answers are kept per request."""
    if obj is None or obj.pk is None or request.user.is_superuser:
        return True
    model = type(obj)
    if not has_door(model):
        return True
    key = (model._meta.label, obj.pk)
    answers = _checked(request)
    if key not in answers:
        answers[key] = visible(model._default_manager.all(), request.user).filter(pk=obj.pk).exists()
    return answers[key]


def _check_many(request, model, objects) -> None:
    """Answer ``covers`` for many objects of one model in one query (a deletion's cascade)."""
    if request.user.is_superuser or not has_door(model):
        return
    pks = {obj.pk for obj in objects}
    seen = set(
        visible(model._default_manager.all(), request.user).filter(pk__in=pks).values_list("pk", flat=True)
    )
    answers = _checked(request)
    for pk in pks:
        answers[(model._meta.label, pk)] = pk in seen


class CoverageChoicesMixin(_Base):
    """Foreign-key and many-to-many choices narrowed to what the user may see."""

    def _covered_choices(self, db_field, request, using):
        queryset = self.get_field_queryset(using, db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.using(using).all()
        return visible(queryset, request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            kwargs["queryset"] = self._covered_choices(db_field, request, kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            kwargs["queryset"] = self._covered_choices(db_field, request, kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CoveredRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-field filter that offers only the objects the user may see."""

    def field_choices(self, field, request, model_admin):
        related = field.remote_field.model
        if not has_door(related) or request.user.is_superuser:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        seen = visible(related._default_manager.all(), request.user).values("pk")
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to={"pk__in": seen})


class CoverageAdminMixin(HistoryAdminMixin, CoverageChoicesMixin, _AdminBase):
    """Mixed into every model admin, before ``admin.ModelAdmin``: see the module's docstring."""

    def get_queryset(self, request):
        return visible(super().get_queryset(request), request.user)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and covers(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and covers(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and covers(request, obj)

    def get_list_filter(self, request):
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and self._is_relation(item):
                item = (item, CoveredRelatedFieldListFilter)
            filters.append(item)
        return filters

    def _is_relation(self, path: str) -> bool:
        field = get_fields_from_path(self.model, path)[-1]
        return bool(field.is_relation and getattr(field, "remote_field", None) is not None)

    # A save must leave the object inside its author's coverage. The form's
    # choices already refuse what he cannot see; this catches what a form
    # cannot (a partner moved to a region he does not cover). Both hooks run
    # inside the admin's transaction, so refusing here undoes the save.
    def log_addition(self, request, obj, message):
        self._require_still_covered(request, obj)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._require_still_covered(request, obj)
        if not message:
            # "Save" on an unchanged form changed nothing: it leaves no history either.
            return None
        return super().log_change(request, obj, message)

    def _require_still_covered(self, request, obj) -> None:
        if obj is None or obj.pk is None or request.user.is_superuser or not has_door(type(obj)):
            return
        _checked(request).pop((type(obj)._meta.label, obj.pk), None)
        if not covers(request, obj):
            raise PermissionDenied("This change would put the object outside what you cover.")

    def get_deleted_objects(self, objs, request):
        """Django's list of what a deletion takes with it, without naming what the user may not see.

        A related object outside the user's coverage is shown without its
        name and, like one he may not delete, makes the deletion refused.
        """
        try:
            first = objs[0]
        except IndexError:
            return [], {}, set(), []
        collector = NestedObjects(using=router.db_for_write(first._meta.model), origin=objs)
        collector.collect(objs)
        collected = cast(dict[Any, set], collector.model_objs)  # keyed by model class
        by_model: dict[Any, list] = defaultdict(list)
        for model, instances in collected.items():
            by_model[model].extend(instances)
        for instance in collector.protected:
            by_model[type(instance)].append(instance)
        for model, found in by_model.items():
            _check_many(request, model, found)
        perms_needed: set[str] = set()

        def describe(obj):
            opts = obj._meta
            if not covers(request, obj):
                perms_needed.add(opts.verbose_name)
                return f"{capfirst(opts.verbose_name)}: one you do not cover"
            plain = f"{capfirst(opts.verbose_name)}: {obj}"
            if not self.admin_site.is_registered(type(obj)):
                return plain
            if not self.admin_site.get_model_admin(type(obj)).has_delete_permission(request, obj):
                perms_needed.add(opts.verbose_name)
            try:
                url = reverse(
                    f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                    None,
                    (quote(obj.pk),),
                )
            except NoReverseMatch:
                return plain
            return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)

        to_delete = collector.nested(describe)
        protected = [describe(obj) for obj in collector.protected]
        model_count = {
            model._meta.verbose_name_plural: len(instances) for model, instances in collected.items()
        }
        return to_delete, model_count, perms_needed, protected


class ReadOnlyAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """Records the product writes (results, ledgers, logs): the admin shows them and changes none."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CoverageInlineMixin(CoverageChoicesMixin, _InlineBase):
    """Mixed into every inline: its rows and its choices go through the door too."""

    def get_queryset(self, request):
        return visible(super().get_queryset(request), request.user)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        user = request.user

        class CoveredFormSet(formset):  # type: ignore[valid-type,misc]
            def add_fields(self, form, index):
                # Each row's hidden id is checked against every row of the model;
                # narrow it to the rows the user sees, like every other choice.
                super().add_fields(form, index)
                row_id = form.fields.get(self._pk_field.name)
                if isinstance(row_id, ModelChoiceField) and row_id.queryset is not None:
                    row_id.queryset = visible(row_id.queryset, user)

        CoveredFormSet.__name__ = formset.__name__
        return CoveredFormSet
