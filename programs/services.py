"""Writes of programs: who manages which program, and the admin's saves of definitions.

Who manages which program: per-program rights granted in the admin, each grant audited.

A channel manager granted ``programs.manage_program`` on a program may change
that program, its tiers, benefits, segments, gates and incentive rules (the
admin and the API ask ``programs_managed_by``); other staff see them read-only.
The rights are django-guardian's object permissions, stored in the direct
foreign-key table ``ProgramUserObjectPermission``.
"""

from collections.abc import Iterable, Mapping

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from guardian.shortcuts import assign_perm, remove_perm

from core.audit import audit
from programs.models import MANAGE_PROGRAM, Program, ProgramUserObjectPermission, Segment
from programs.versioning import segment_saved


def may_grant_program_managers(actor) -> bool:
    """Superusers, and staff an administrator allowed to grant (the grant table's model permissions)."""
    return bool(
        actor is not None
        and actor.is_authenticated
        and actor.is_active
        and actor.is_staff
        and (
            actor.is_superuser
            or actor.has_perms(
                ["programs.add_programuserobjectpermission", "programs.delete_programuserobjectpermission"]
            )
        )
    )


def program_managers(program: Program):
    """The logins granted the right to manage ``program`` (directly, not through a group)."""
    return (
        get_user_model()
        ._default_manager.filter(
            pk__in=ProgramUserObjectPermission.objects.filter(
                content_object=program, permission__codename="manage_program"
            ).values("user_id")
        )
        .order_by("username")
    )


def program_manager_grant(*, actor, program: Program, user, check: bool = True) -> bool:
    """Let ``user`` manage ``program``; True when the right is new, False when he held it already.

    Preconditions: ``actor`` may grant (unless ``check`` is False, for the
    program's creator and the demo data); ``user`` is active staff.
    Side effects: the grant and an audit entry, in one transaction.
    """
    if check and not may_grant_program_managers(actor):
        raise PermissionDenied("Only administrators grant the management of a program.")
    if not (user.is_active and user.is_staff):
        raise ValidationError({"user": "Only active staff can manage a program."})
    with transaction.atomic():
        if program_managers(program).filter(pk=user.pk).exists():
            return False
        assign_perm(MANAGE_PROGRAM, user, program)
        audit(
            actor=actor,
            action="program.manager_granted",
            target=program,
            user_id=user.pk,
            username=user.get_username(),
        )
    return True


def program_manager_revoke(*, actor, program: Program, user) -> bool:
    """Take the management of ``program`` from ``user``; True when he held it.

    Precondition: ``actor`` may grant. Side effects: the revocation and an
    audit entry, in one transaction.
    """
    if not may_grant_program_managers(actor):
        raise PermissionDenied("Only administrators revoke the management of a program.")
    with transaction.atomic():
        if not program_managers(program).filter(pk=user.pk).exists():
            return False
        remove_perm(MANAGE_PROGRAM, user, program)
        audit(
            actor=actor,
            action="program.manager_revoked",
            target=program,
            user_id=user.pk,
            username=user.get_username(),
        )
    return True


# What a definition is: the models this module writes.
DEFINITIONS = ("program", "tier", "benefit", "segment")


def _check(definition: models.Model) -> str:
    name = definition._meta.model_name
    if definition._meta.app_label != "programs" or name not in DEFINITIONS:
        raise TypeError(f"{definition._meta.label} is not a program definition")
    return str(name)


def definition_save(
    *,
    actor,
    definition: models.Model,
    created: bool,
    fields: Iterable[str] = (),
    links: Mapping[str, Iterable[models.Model]] | None = None,
) -> models.Model:
    """Save a validated program, tier, benefit or segment; ``fields`` names what the editor changed.

    ``links`` sets many-to-many relations in the same transaction (a benefit's
    tiers, as sent through the API; the admin's forms save theirs themselves).
    Precondition: the definition passed ``full_clean`` (the admin's forms do it).
    Side effects: an audit entry; the re-evaluation the gates queue after commit.
    """
    name = _check(definition)
    with transaction.atomic():
        before = None
        if isinstance(definition, Segment) and not created:
            before = Segment.objects.filter(pk=definition.pk).values_list("criteria", "currency").first()
        definition.save()
        if isinstance(definition, Segment):
            # Edited in place (in use, it refuses: drafts are published instead): its next version.
            segment_saved(segment=definition, criteria_before=before)
        for relation, objects in (links or {}).items():
            getattr(definition, relation).set(objects)
        audit(
            actor=actor,
            action=f"{name}.created" if created else f"{name}.changed",
            target=definition,
            fields=sorted(fields),
        )
    return definition


def program_create(*, actor, program: Program, fields: Iterable[str] = ()) -> Program:
    """Save a new, validated program; whoever creates it manages it, or he could not finish setting
    it up (a superuser manages every program already).

    Precondition: ``actor`` may add programs and is active staff. Side effects:
    the program, its audit entry and the grant's, in one transaction.
    """
    with transaction.atomic():
        definition_save(actor=actor, definition=program, created=True, fields=fields)
        if not actor.is_superuser:
            program_manager_grant(actor=actor, program=program, user=actor, check=False)
    return program


def definition_delete(*, actor, definition: models.Model) -> None:
    """Delete a program, tier, benefit or segment (the database refuses one still in use)."""
    name = _check(definition)
    with transaction.atomic():
        audit(actor=actor, action=f"{name}.deleted", target=definition, name=str(definition))
        definition.delete()
