"""Writes of the API app: issuing and revoking tokens, saving gates sent through the API, inviting
a partner's colleague."""

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.services import invitation_request
from api.models import IntegrationToken, TokenScope, manages_every_token, new_token_secret, token_digest
from api.resources import has_write_scope
from core.audit import audit
from core.door import is_active_user, principal_token
from gates.models import GateState
from gates.services import gate_saved
from partners.members import membership_invite
from partners.models import Partner

# A token's last use is written at most this often, so that reads stay reads.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


TOKENS_BY_PEOPLE = "Tokens are managed by people: sign in to issue, list or revoke tokens."
NOT_AN_ISSUER = (
    "Issuing integration tokens needs staff status and the permission to add integration tokens "
    "(api.add_integrationtoken): ask an administrator."
)
NOT_YOURS_TO_REVOKE = "Only the issuer of a token, or who manages every token, may revoke it."


def may_issue_tokens(user) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and user.has_perm("api.add_integrationtoken")
    )


def may_write(user) -> bool:
    """Whether the user holds a right to change data: a permission beyond viewing, other than the
    API's own (issuing tokens is no right to change data). Otherwise a token acting for them
    could write nothing, and a read-write token would promise what it cannot do."""
    if user.is_superuser:
        return True
    return any(
        not permission.startswith("api.") and not permission.split(".", 1)[-1].startswith("view_")
        for permission in user.get_all_permissions()
    )


def token_check(
    *,
    issuer,
    scope: str,
    resource_scopes: Iterable[str] = (),
    all_partners: bool,
    partners: Iterable = (),
    expires_at: datetime.datetime | None = None,
) -> None:
    """The rules of a token for ``issuer``, before it is issued (or changed in the admin); raises
    Django's ``ValidationError`` naming each field at fault.

    A token never sees more than its issuer: the partners it names are among those the issuer
    sees, a read-write token (or a write resource scope) needs an issuer who may write, and it
    covers some partners or all of them, not neither. An expiry in the past is refused.
    """
    errors: dict[str, str] = {}
    partners = list(partners)
    if all_partners and partners:
        errors["partners"] = "A token for all partners names none: leave partners empty, or all_partners off."
    elif not all_partners and not partners:
        errors["partners"] = "Choose the partners the token covers, or make it cover all partners."
    elif partners:
        wanted = {partner.pk for partner in partners}
        seen = set(Partner.objects.visible_to(issuer).filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted - seen:
            missing = ", ".join(str(pk) for pk in sorted(wanted - seen))
            errors["partners"] = (
                f"Not among the partners the issuer sees: {missing}. A token never sees more than its issuer."
            )
    if not may_write(issuer):
        if scope == TokenScope.READ_WRITE:
            errors["scope"] = "The issuer may change no data: issue a read-only token."
        elif has_write_scope(resource_scopes):
            errors["resource_scopes"] = "The issuer may change no data: choose read scopes only."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The token would already have expired."
    if errors:
        raise DjangoValidationError(errors)


def token_issue(
    *,
    actor,
    name: str,
    scope: str = TokenScope.READ,
    resource_scopes: Iterable[str] = (),
    all_partners: bool = False,
    partners: Iterable = (),
    source: str = "",
    expires_at: datetime.datetime | None = None,
    token: IntegrationToken | None = None,
) -> tuple[IntegrationToken, str]:
    """Issue a token acting for ``actor``; returns it and its secret, which is never stored.

    Preconditions: ``actor`` is a person (a token issues no tokens), active staff holding
    ``api.add_integrationtoken``, else ``PermissionDenied``; the token passes ``token_check``
    and the model's validation, else ``ValidationError``. ``token`` may be an unsaved instance
    prepared by a form (the admin): its fields are used and the other arguments but ``partners``
    ignored. The audit log records the issue, never the secret.
    """
    if principal_token(actor) is not None:
        raise PermissionDenied(TOKENS_BY_PEOPLE)
    if not may_issue_tokens(actor):
        raise PermissionDenied(NOT_AN_ISSUER)
    if token is None:
        token = IntegrationToken(
            name=name,
            scope=scope,
            resource_scopes=sorted(set(resource_scopes)),
            all_partners=all_partners,
            source=source,
            expires_at=expires_at,
        )
    if isinstance(token.resource_scopes, list):
        token.resource_scopes = sorted(set(token.resource_scopes))
    partners = list(partners)
    token_check(
        issuer=actor,
        scope=token.scope,
        resource_scopes=token.resource_scopes,
        all_partners=token.all_partners,
        partners=partners,
        expires_at=token.expires_at,
    )
    identifier, raw = new_token_secret()
    token.identifier = identifier
    token.secret_hash = token_digest(raw)
    token.issued_by = actor
    token.full_clean(validate_unique=False)
    with transaction.atomic():
        token.save()
        if partners:
            token.partners.set(partners)
        audit(
            actor=actor,
            action="integration_token.issued",
            target=token,
            name=token.name,
            scope=token.scope,
            resource_scopes=token.resource_scopes,
            all_partners=token.all_partners,
        )
    return token, raw


def token_revoke(*, actor, token: IntegrationToken) -> bool:
    """Revoke a token at once; False if it was already revoked (revoking twice changes nothing).

    Preconditions: ``actor`` is a person, the token's issuer or one who manages every token
    (superusers, staff holding ``api.change_integrationtoken``), else ``PermissionDenied``.
    """
    if principal_token(actor) is not None:
        raise PermissionDenied(TOKENS_BY_PEOPLE)
    if not is_active_user(actor) or (token.issued_by_id != actor.pk and not manages_every_token(actor)):
        raise PermissionDenied(NOT_YOURS_TO_REVOKE)
    with transaction.atomic():
        updated = IntegrationToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor
        )
        if updated:
            audit(actor=actor, action="integration_token.revoked", target=token, name=token.name)
    return bool(updated)


def token_touch(token: IntegrationToken) -> None:
    """Record that a token was used, at most once a minute (one UPDATE, no read)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def gate_save(*, actor, gate, prerequisites=None, benefits=None, before=None):
    """Save a gate validated by the API serializer, then hand over to the gate engine.

    ``before`` is the engine's ``gate_definition`` of the stored gate (None
    for a new one). The engine's ``gate_saved`` bumps the version when the
    criteria changed, audits, and queues the re-evaluation after commit when
    the edit matters to a decision, exactly as after an edit in the admin. A
    concurrent edit that breaks a uniqueness rule is reported as a
    validation error, never half-written.
    """
    if before is not None and before.state == GateState.ACTIVE:
        stored = type(gate).objects.get(pk=gate.pk)
        if (gate.criteria, gate.currency) != (stored.criteria, stored.currency):
            raise ValidationError(
                {
                    "criteria": [
                        "An active gate is not edited in place: save a draft (its draft action) and publish it."
                    ]
                },
                code="conflict",  # the gate's state refuses it, not the body: a 409
            )
    try:
        with transaction.atomic():
            gate.save()
            if prerequisites is not None:
                gate.prerequisites.set(prerequisites)
            if benefits is not None:
                gate.unlocks_benefits.set(benefits)
            gate_saved(actor=actor, gate=gate, before=before)
    except IntegrityError as exc:
        raise ValidationError(
            {"non_field_errors": ["Another gate was saved with the same name or tier meanwhile; try again."]}
        ) from exc
    gate.refresh_from_db()
    return gate


def member_invite(*, actor, principal, partner, email: str, role: str, domain: str, use_https: bool, **names):
    """Invite a colleague into a partner's team: the login and its membership
    (``partners.members.membership_invite``, which checks the door), then, after commit, the
    invitation with the link to choose a password (the one-time link of a password reset, for
    ``domain``)."""
    with transaction.atomic():
        membership = membership_invite(
            actor=actor, principal=principal, partner=partner, email=email, role=role, **names
        )
        invitation_request(
            email=membership.user.email,
            domain=domain,
            use_https=use_https,
            inviter=actor.get_full_name() or actor.get_username(),
            organisation=str(partner),
        )
    return membership
