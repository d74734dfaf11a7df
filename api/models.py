"""Integration tokens: how CRMs, learning systems and billing call the API.

A channel manager issues a token in the admin or through the API
(``/api/v1/tokens/``). The token acts with the visibility of the manager who
issued it, narrowed to a named set of partners unless it covers all of them,
read-only unless issued read-write, and, when it carries resource scopes
(``api.resources``), limited to the resources they name. Only a SHA-256 digest
of the secret is stored: the secret is shown once, when issued.

A fast digest (rather than a slow password hash) is enough because the
secret is 256 random bits, not a human password, and it lets every request
find its token with one indexed lookup.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from api.resources import WRITE, has_write_scope, validate_resource_scopes
from core.door import DoorQuerySet, principal_token, principal_user
from history.tracking import track_links, tracked

TOKEN_PREFIX = "prm"  # noqa: S105 (the public start of every token, not a secret)
# prm_<8 chars identifying the token>_<43 chars of secret>
_ID_BYTES = 6
_SECRET_BYTES = 32


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token_secret() -> tuple[str, str]:
    """A fresh token: (its public identifier, the whole secret string)."""
    identifier = secrets.token_urlsafe(_ID_BYTES)
    raw = f"{TOKEN_PREFIX}_{identifier}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return identifier, raw


def manages_every_token(user) -> bool:
    return bool(user.is_superuser or user.has_perm("api.change_integrationtoken"))


class IntegrationTokenQuerySet(DoorQuerySet["IntegrationToken"]):
    def visible_to(self, principal) -> "IntegrationTokenQuerySet":
        """Staff see the tokens they issued; superusers and staff granted the token permissions, all.
        A token sees no tokens, not even itself: tokens are managed by people."""
        user = principal_user(principal)
        if principal_token(principal) is not None:
            return self.none()
        if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
            return self.none()
        return self.all() if manages_every_token(user) else self.filter(issued_by=user)

    def usable(self) -> "IntegrationTokenQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def find(self, raw: str) -> "IntegrationToken | None":
        """The token whose secret is ``raw``, with its issuer, or None."""
        if not raw.startswith(f"{TOKEN_PREFIX}_") or len(raw) > 200:
            return None
        digest = token_digest(raw)
        token = self.select_related("issued_by").filter(secret_hash=digest).first()
        # The lookup is by digest; compare again in constant time for good measure.
        if token is None or not hmac.compare_digest(token.secret_hash, digest):
            return None
        return token


@tracked(exclude=["secret_hash"], ignore=["last_used_at"])
class IntegrationToken(models.Model):
    name = models.CharField(max_length=200, help_text="What the token is for, e.g. “Salesforce sync”.")
    identifier = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="integration_tokens",
        help_text="The channel manager the token acts for: it never sees more than they do.",
    )
    scope = models.CharField(max_length=12, choices=TokenScope.choices, default=TokenScope.READ)
    resource_scopes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_resource_scopes],
        help_text="Resources the token may use, e.g. “facts:write”, “gates:read”; "
        "empty leaves the scope above to decide for every resource.",
    )
    all_partners = models.BooleanField(
        default=False, help_text="Every partner the issuer can see, rather than the partners listed."
    )
    partners = models.ManyToManyField("partners.Partner", blank=True, related_name="+")
    source = models.SlugField(
        max_length=50,
        blank=True,
        help_text="Facts pushed with this token are recorded under this source; "
        "empty lets each batch name its source.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = IntegrationTokenQuerySet.as_manager()

    # A principal of the one door (``core.door``): it acts for ``issued_by``, narrowed to ``partners``.
    is_integration_token = True

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}_{self.identifier}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.READ_WRITE

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def prefix(self) -> str:
        """The public start of the secret, by which a person recognises the token."""
        return f"{TOKEN_PREFIX}_{self.identifier}_"

    def clean(self) -> None:
        if self.expires_at is not None and self.expires_at <= timezone.now() and self._state.adding:
            raise ValidationError({"expires_at": "The token would already have expired."})
        scopes = self.resource_scopes if isinstance(self.resource_scopes, list) else []
        if has_write_scope(scopes) and self.scope != TokenScope.READ_WRITE:
            raise ValidationError(
                {
                    "resource_scopes": f"A “:{WRITE}” scope needs a read-write token: "
                    "choose the read-and-write scope, or read scopes only."
                }
            )


track_links(IntegrationToken.partners.through, name="IntegrationTokenPartnerLinkEvent")


class IdempotencyKey(models.Model):
    """An ``Idempotency-Key`` a caller sent with a POST, and the answer it got.

    The same key from the same caller replays the stored answer instead of acting twice; with
    another body or on another path it is refused. Keys are kept for
    ``PRM_IDEMPOTENCY_KEY_HOURS`` and then purged. ``status_code`` is empty while the first
    request is still being answered.
    """

    owner = models.CharField(max_length=40, help_text="token:<id> or user:<id>: whose key it is.")
    key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content = models.BinaryField(blank=True, default=b"")
    content_type = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_once_per_caller"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
