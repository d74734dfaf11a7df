"""Per-program rights in the admin: a program's definitions are changed by its managers only.

``ProgramRightsAdminMixin`` (model admins) and ``ProgramRightsInlineMixin``
(inlines) ask the door, ``actionable_by(user, "manage")``, for each object:
staff who do not manage its program see it read-only, and the program
choices of an add form offer only the programs the user manages. Superusers
manage every program.
"""

from typing import TYPE_CHECKING, Any

from programs.models import programs_managed_by

if TYPE_CHECKING:
    from django.contrib.admin.options import BaseModelAdmin as _Base
else:
    _Base = object

_ANSWERS = "_prm_manages"


def manages(request, obj: Any) -> bool:
    """Whether the user of ``request`` may change ``obj``'s program definitions; kept per request."""
    if obj is None or obj.pk is None or request.user.is_superuser:
        return True
    answers = request.__dict__.setdefault(_ANSWERS, {})
    key = (obj._meta.label, obj.pk)
    if key not in answers:
        answers[key] = type(obj)._default_manager.allows(request.user, "manage", obj)
    return answers[key]


class ProgramRightsAdminMixin(_Base):
    """Mixed in before ``CoverageAdminMixin``; ``program_field`` names the foreign key to the program."""

    program_field: str | None = "program"

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and manages(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if self.program_field and db_field.name == self.program_field and "queryset" not in kwargs:
            kwargs["queryset"] = programs_managed_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ProgramRightsInlineMixin(_Base):
    """Rows of a definition (tiers of a program, rates of a rule) change with their parent's rights."""

    def has_add_permission(self, request, obj=None):  # type: ignore[override]
        return super().has_add_permission(request, obj) and manages(request, obj)  # type: ignore[call-arg]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and manages(request, obj)
