"""Writes of a partner's team: who logs in for it, with which role, and whether the login may sign in.

Staff holding the membership permissions manage the memberships of the partners
they cover (the ``invite_members`` action of the partner's door, ``change``,
``deactivate`` and ``delete`` of the membership's); activating or deactivating
any login takes ``auth.change_user``, which administrators hold. A partner's
admins manage their own team from the portal: they invite colleagues, change
their roles and deactivate leavers, never their own login. Logins are created
plain: never staff, never superusers. Every login of a partner has a person
record, which keeps its certifications when the login is deactivated.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from core.audit import audit
from core.door import is_active_user, may_write, principal_user
from partners.models import Membership, MembershipRole, Partner, Person, users_visible_to

EMAIL_TAKEN = "A login already uses this email address: an administrator links it to a partner in the admin."
ALREADY_MEMBER = "This login is already a member of this partner."
PARTNER_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.SALES, MembershipRole.TECHNICAL})
# The roles a partner's member may hold, as a form or the API offers them.
PARTNER_ROLE_CHOICES = [(value, label) for value, label in MembershipRole.choices if value in PARTNER_ROLES]


def membership_invite(
    *,
    actor,
    partner: Partner,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    principal=None,
) -> Membership:
    """Create a login for ``email`` and make it a member of ``partner`` with ``role``.

    Preconditions: ``principal`` (the token, or the actor) may ``invite_members`` to the partner
    (otherwise ``PermissionDenied``); ``role`` is a partner role. An address a login already uses
    (as its email or its username, in any case) is refused with a ``conflict``: an existing
    login is never taken over from here. The login is active, neither staff nor superuser, with a
    password nobody knows: the caller sends the invitee the link to choose one. Audited.
    """
    principal = principal if principal is not None else actor
    if not Partner.objects.allows(principal, "invite_members", partner):
        raise PermissionDenied("You may not add logins to this partner's team.")
    if role not in PARTNER_ROLES:
        raise ValidationError({"role": "Partner users are admins, sales or technical."})
    address = email.strip()
    users = get_user_model()._default_manager
    with transaction.atomic():
        taken = users.filter(Q(email__iexact=address) | Q(username__iexact=address))
        existing = taken.select_related("membership").first()
        if existing is not None:
            membership = getattr(existing, "membership", None)
            own = membership is not None and membership.partner_id == partner.pk
            seen = users_visible_to(principal).filter(pk=existing.pk).exists()
            message = ALREADY_MEMBER if own and seen else EMAIL_TAKEN
            raise ValidationError({"email": ValidationError(message, code="conflict")})
        user = users.model(
            username=address.lower(),
            email=address,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            is_active=True,
            is_staff=False,
            is_superuser=False,
        )
        # Usable, so that the reset link works; random, so that nobody knows it.
        user.set_password(secrets.token_urlsafe(32))
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:  # the same address invited at the same moment
            raise ValidationError({"email": ValidationError(EMAIL_TAKEN, code="conflict")}) from exc
        membership = Membership(user=user, partner=partner, role=role)
        membership.full_clean()
        membership.save()
        _person_link(partner=partner, user=user)
        audit(actor=actor, action="membership.invited", target=membership, partner=partner.pk, role=role)
    return membership


def _person_link(*, partner: Partner, user) -> Person:
    """The person record of a new login: the partner's person of that email without a login yet
    (an LMS or the admin may have recorded them first), or a new one."""
    person = (
        Person.objects.select_for_update()
        .filter(partner=partner, email__iexact=user.email, user__isnull=True)
        .first()
    )
    if person is None:
        return Person.objects.create(
            partner=partner,
            user=user,
            email=user.email,
            first_name=user.first_name or user.email.split("@")[0],
            last_name=user.last_name,
        )
    person.user = user
    person.is_active = True
    person.save(update_fields=["user", "is_active", "updated_at"])
    return person


def membership_deactivate(*, actor, membership: Membership, principal=None) -> Membership:
    """Stop a leaver's login at once: it signs in to nothing, and its sessions and the tokens it
    issued stop too, as they check ``is_active``. The membership stays, for the record; the
    person record stays with its certifications, marked inactive so that the team lists them no
    more. The door's ``deactivate`` decides (``PermissionDenied``). Unchanged, nothing is
    written. Audited."""
    principal = principal if principal is not None else actor
    if not Membership.objects.allows(principal, "deactivate", membership):
        raise PermissionDenied("You may not deactivate this colleague.")
    with transaction.atomic():
        locked = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        user = locked.user
        if not user.is_active:
            return locked
        user.is_active = False
        user.save(update_fields=["is_active"])
        Person.objects.filter(user=user).update(is_active=False)
        audit(actor=actor, action="membership.deactivated", target=locked, user=user.pk, role=locked.role)
    return locked


def membership_role_change(*, actor, membership: Membership, role: str, principal=None) -> Membership:
    """Give a member another role. The door's ``change`` decides (``PermissionDenied``); the
    role must suit the organisation (``ValidationError``). Unchanged, nothing is written."""
    principal = principal if principal is not None else actor
    if not Membership.objects.allows(principal, "change", membership):
        raise PermissionDenied("You may not change this membership.")
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == role:
            return locked
        before = locked.role
        locked.role = role
        locked.full_clean()
        locked.save(update_fields=["role", "updated_at"])
        audit(actor=actor, action="membership.role_changed", target=locked, before=before, after=role)
    return locked


def membership_remove(*, actor, membership: Membership, principal=None) -> None:
    """Take a login off its organisation's team; the login stays, signing in to nothing.
    The door's ``delete`` decides (``PermissionDenied``). Audited."""
    principal = principal if principal is not None else actor
    if not Membership.objects.allows(principal, "delete", membership):
        raise PermissionDenied("You may not remove this membership.")
    with transaction.atomic():
        audit(
            actor=actor,
            action="membership.removed",
            target=membership,
            user=membership.user_id,
            partner=membership.partner_id,
            distributor=membership.distributor_id,
            role=membership.role,
        )
        membership.delete()


def user_may_change(principal, user) -> bool:
    """Whether ``principal`` may activate or deactivate ``user``: as the admin's user pages,
    staff holding ``auth.change_user`` (administrators), on the logins they see; never one's own
    login, and a superuser's only by a superuser."""
    acting = principal_user(principal)
    return bool(
        is_active_user(acting)
        and may_write(principal)
        and acting.is_staff
        and acting.has_perm(f"{user._meta.app_label}.change_{user._meta.model_name}")
        and acting.pk != user.pk
        and (acting.is_superuser or not user.is_superuser)
        and users_visible_to(principal).filter(pk=user.pk).exists()
    )


def user_active_set(*, actor, user, active: bool, principal=None):
    """Let a login sign in again, or stop it from signing in (its sessions and tokens stop too,
    as they check ``is_active``). Unchanged, nothing is written. Audited."""
    principal = principal if principal is not None else actor
    if not user_may_change(principal, user):
        raise PermissionDenied("You may not activate or deactivate this login.")
    with transaction.atomic():
        model = type(user)
        locked = model._default_manager.select_for_update().get(pk=user.pk)
        if locked.is_active == active:
            return locked
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        audit(actor=actor, action="user.reactivated" if active else "user.deactivated", target=locked)
    return locked
