"""Writes of the API app: issuing and revoking tokens, saving gates sent through the API, inviting
a partner's colleague."""

import datetime
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.services import password_reset_request
from api.models import IntegrationToken, TokenScope, new_token_secret, token_digest
from core.audit import audit
from gates.models import GateState
from gates.services import gate_saved
from partners.members import membership_invite

# A token's last use is written at most this often, so that reads stay reads.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def token_issue(
    *,
    actor,
    name: str,
    scope: str = TokenScope.READ,
    all_partners: bool = False,
    partners: Iterable = (),
    source: str = "",
    expires_at: datetime.datetime | None = None,
    token: IntegrationToken | None = None,
) -> tuple[IntegrationToken, str]:
    """Issue a token acting for ``actor``; returns it and its secret, which is never stored.

    ``token`` may be an unsaved instance prepared by a form (the admin). The
    audit log records the issue, never the secret.
    """
    if token is None:
        token = IntegrationToken(
            name=name, scope=scope, all_partners=all_partners, source=source, expires_at=expires_at
        )
    identifier, raw = new_token_secret()
    token.identifier = identifier
    token.secret_hash = token_digest(raw)
    token.issued_by = actor
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
            all_partners=token.all_partners,
        )
    return token, raw


def token_revoke(*, actor, token: IntegrationToken) -> bool:
    """Revoke a token at once; False if it was already revoked (revoking twice changes nothing)."""
    with transaction.atomic():
        updated = IntegrationToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor if getattr(actor, "is_authenticated", False) else None
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
                }
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
    email with the link to choose a password (the one a password reset sends, for ``domain``)."""
    with transaction.atomic():
        membership = membership_invite(
            actor=actor, principal=principal, partner=partner, email=email, role=role, **names
        )
        password_reset_request(email=membership.user.email, domain=domain, use_https=use_https)
    return membership
