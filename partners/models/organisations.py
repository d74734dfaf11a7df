"""Organisations: distributors, partners, the managers who cover them, and memberships."""

import datetime
from typing import cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField

from core.door import DoorQuerySet, acts_vendor_wide, principal_token, principal_user
from history.tracking import tracked

# Facts dated before this are refused: they are typing mistakes, not history.
EARLIEST_FACT_DATE = datetime.date(2000, 1, 1)


def validate_fact_date(value: datetime.date) -> None:
    if value < EARLIEST_FACT_DATE:
        raise ValidationError(f"Dates before {EARLIEST_FACT_DATE:%d %B %Y} are not accepted.")
    if value > timezone.localdate() + datetime.timedelta(days=1):
        raise ValidationError("A fact cannot be dated in the future.")


class Region(models.TextChoices):
    NORTH_AMERICA = "na", "North America"
    LATIN_AMERICA = "latam", "Latin America"
    EMEA = "emea", "Europe, Middle East & Africa"
    APAC = "apac", "Asia Pacific"


class PartnerType(models.TextChoices):
    """The partner's persona: what kind of company it is to the vendor."""

    RESELLER = "reseller", "Reseller"
    VAR = "var", "Value-added reseller"
    MSP = "msp", "Managed service provider"
    MSSP = "mssp", "Managed security service provider"
    SYSTEM_INTEGRATOR = "si", "System integrator"
    ISV = "isv", "Independent software vendor"
    CONSULTANCY = "consultancy", "Consultancy"
    REFERRAL = "referral", "Referral partner"
    AGENCY = "agency", "Agency"
    MARKETPLACE = "marketplace", "Marketplace"
    OEM = "oem", "OEM / embedded"
    TECHNOLOGY = "technology", "Technology alliance"
    INFLUENCER = "influencer", "Influencer / affiliate"


class BusinessModel(models.TextChoices):
    """How the partner makes money with the vendor's products."""

    RESELL = "resell", "Resell"
    SERVICES = "services", "Professional services"
    MANAGED = "managed", "Managed services"
    REFERRAL = "referral", "Refer"
    EMBED = "embed", "Build with / embed"
    MARKETPLACE = "marketplace", "Marketplace"


class LifecycleStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    ONBOARDING = "onboarding", "Onboarding"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    TERMINATED = "terminated", "Terminated"


# A partner's lifecycle: recruited, onboarded, active; suspended and reinstated; terminated
# for good. Every other move is refused, in the admin, the API and the services.
PARTNER_STATE_MOVES = frozenset(
    {
        (LifecycleStatus.PROSPECT, LifecycleStatus.ONBOARDING),
        (LifecycleStatus.PROSPECT, LifecycleStatus.ACTIVE),
        (LifecycleStatus.PROSPECT, LifecycleStatus.TERMINATED),
        (LifecycleStatus.ONBOARDING, LifecycleStatus.ACTIVE),
        (LifecycleStatus.ONBOARDING, LifecycleStatus.SUSPENDED),
        (LifecycleStatus.ONBOARDING, LifecycleStatus.TERMINATED),
        (LifecycleStatus.ACTIVE, LifecycleStatus.SUSPENDED),
        (LifecycleStatus.ACTIVE, LifecycleStatus.TERMINATED),
        (LifecycleStatus.SUSPENDED, LifecycleStatus.ACTIVE),
        (LifecycleStatus.SUSPENDED, LifecycleStatus.TERMINATED),
    }
)


def partner_move_refusal(current: str, destination: str) -> str:
    """Why a partner cannot go from ``current`` to ``destination``, in the words the forms show."""
    label = LifecycleStatus(current).label.lower()
    allowed = sorted(
        LifecycleStatus(to).label.lower() for start, to in PARTNER_STATE_MOVES if start == current
    )
    article = "An" if label[:1] in "aeiou" else "A"
    if not allowed:
        return f"{article} {label} partner stays {label}: termination is final."
    return f"{article} {label} partner can only become {' or '.join(allowed)}."


def sees_every_partner(user) -> bool:
    """Superusers, and staff holding ``partners.view_all_partners``: no coverage narrows what they see."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or (user.is_staff and user.has_perm("partners.view_all_partners")))
    )


def _token_partner_ids(principal):
    """The partners a token is limited to (a subquery), or None when the principal is not so limited."""
    token = principal_token(principal)
    if token is None or token.all_partners:
        return None
    return token.partners.values("pk")


class DistributorQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "DistributorQuerySet":
        """Distributors a user may know of.

        Staff who see every partner see every distributor; a channel manager
        those in the regions he covers and those serving a partner he sees; a
        distributor user its own; a partner user the distributor it buys
        through; anybody else none. A token limited to some partners sees the
        distributors of those partners.
        """
        user = principal_user(principal)
        token_partners = _token_partner_ids(principal)
        if token_partners is not None:
            serving = Partner.objects.visible_to(principal).filter(distributor__isnull=False)
            return self.filter(pk__in=serving.values("distributor_id"))
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if sees_every_partner(user):
            return self.all()
        if user.is_staff:
            serving = Partner.objects.visible_to(user).filter(distributor__isnull=False)
            return self.filter(
                Q(region__in=ManagerProfile.regions_for(user)) | Q(pk__in=serving.values("distributor_id"))
            )
        membership = Membership.for_user(user)
        if membership is None:
            return self.none()
        if membership.distributor_id is not None:
            return self.filter(pk=membership.distributor_id)
        return self.filter(pk=membership.partner.distributor_id) if membership.partner else self.none()


@tracked()
class Distributor(models.Model):
    """A distributor in a two-tier channel: it serves partners and approves their deals."""

    name = models.CharField(max_length=200, unique=True)
    country = CountryField()
    region = models.CharField(max_length=8, choices=Region.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DistributorQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "PartnerQuerySet":
        """The one door through which every view, form and API list reads partners.

        Superusers and staff holding ``partners.view_all_partners`` see every
        partner; other staff (channel managers) the partners assigned to them or
        in the regions they cover; a distributor user the partners it serves; a
        partner user its own organisation; anybody else nothing. A token sees
        what its issuer sees, narrowed to its partners unless it covers all.
        """
        visible = self._visible_to_user(principal_user(principal))
        token_partners = _token_partner_ids(principal)
        return visible if token_partners is None else visible.filter(pk__in=token_partners)

    def _visible_to_user(self, user) -> "PartnerQuerySet":
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if sees_every_partner(user):
            return self.all()
        if user.is_staff:
            regions = ManagerProfile.regions_for(user)
            return self.filter(Q(channel_manager=user) | Q(region__in=regions))
        membership = Membership.for_user(user)
        if membership is None:
            return self.none()
        if membership.distributor_id is not None:
            return self.filter(distributor_id=membership.distributor_id)
        return self.filter(pk=membership.partner_id)

    def _own_organisation(self, principal, roles) -> "PartnerQuerySet":
        """The partner of a partner user holding one of ``roles``; nothing for anybody else."""
        membership = Membership.for_user(principal_user(principal))
        if membership is None or membership.partner_id is None or membership.role not in roles:
            return self.none()
        return self.visible_to(principal).filter(pk=membership.partner_id)

    def allows(self, principal, action: str, obj) -> bool:
        """As ``actionable_by``; the actions a partner user takes for its own organisation are
        decided from the membership (loaded once per request), without a query."""
        roles = OWN_ORGANISATION_ACTIONS.get(action)
        if roles is None or principal_token(principal) is not None:
            return super().allows(principal, action, obj)
        user = principal_user(principal)
        membership = Membership.for_user(user)
        return bool(
            user is not None
            and user.is_authenticated
            and user.is_active
            and membership is not None
            and membership.partner_id is not None
            and membership.partner_id == obj.pk
            and membership.role in roles
        )

    def _actionable_send_facts(self, principal) -> "PartnerQuerySet":
        """Facts are sent (ingestion, the fact admin) for the partners the principal sees; the
        views check the model permissions first."""
        return self.visible_to(principal)

    def _actionable_evaluate(self, principal) -> "PartnerQuerySet":
        """Queue a re-evaluation: staff, for the partners they see."""
        if not principal_user(principal).is_staff:
            return self.none()
        return self.visible_to(principal)

    def _actionable_evaluate_all(self, principal) -> "PartnerQuerySet":
        """Re-evaluate every partner at once: staff acting vendor-wide."""
        if not principal_user(principal).is_staff or not acts_vendor_wide(principal):
            return self.none()
        return self.visible_to(principal)

    def _actionable_register_deals(self, principal) -> "PartnerQuerySet":
        """Register deals and report their outcome as the partner: its admins and sellers."""
        return self._own_organisation(principal, OWN_ORGANISATION_ACTIONS["register_deals"])

    def _actionable_spend_mdf(self, principal) -> "PartnerQuerySet":
        """Request, withdraw and claim marketing funds as the partner: its admins."""
        return self._own_organisation(principal, OWN_ORGANISATION_ACTIONS["spend_mdf"])

    def _actionable_invite_members(self, principal) -> "PartnerQuerySet":
        """Add a login to a partner's team (the API's invitation, the admin's membership inline,
        the portal's team page): staff holding ``partners.add_membership``, for the partners they
        see; a partner's admins, for their own organisation."""
        user = principal_user(principal)
        if not user.is_staff:
            return self._own_organisation(principal, ADMIN_ROLES)
        if not user.has_perm("partners.add_membership"):
            return self.none()
        return self.visible_to(principal)

    def _actionable_onboard(self, principal) -> "PartnerQuerySet":
        """Work through the onboarding checklist (accept a program's agreement, complete the
        company profile) as the partner: its admins."""
        return self._own_organisation(principal, OWN_ORGANISATION_ACTIONS["onboard"])

    def _actionable_override_tiers(self, principal) -> "PartnerQuerySet":
        """Give a partner with no tier row yet an overridden tier (the admin's add page of partner
        tiers): staff holding both permissions, for the partners they see. A row that exists is
        the partner tier's own ``change``."""
        user = principal_user(principal)
        if not user.is_staff or not user.has_perms(["gates.add_partnertier", "gates.change_partnertier"]):
            return self.none()
        return self.visible_to(principal)

    def _actionable_redeem(self, principal) -> "PartnerQuerySet":
        """Spend points on rewards: the partner's admins, or staff for the partners they see."""
        if principal_user(principal).is_staff:
            return self.visible_to(principal)
        return self._own_organisation(principal, MDF_ROLES)


@tracked()
class Partner(models.Model):
    name = models.CharField(max_length=200)
    partner_type = models.CharField(max_length=16, choices=PartnerType.choices)
    business_model = models.CharField(max_length=16, choices=BusinessModel.choices)
    country = CountryField()
    region = models.CharField(max_length=8, choices=Region.choices)
    status = models.CharField(
        max_length=16, choices=LifecycleStatus.choices, default=LifecycleStatus.PROSPECT
    )
    distributor = models.ForeignKey(
        Distributor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="partners",
        help_text="The distributor this partner buys through (two-tier channel).",
    )
    channel_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_partners",
        limit_choices_to={"is_staff": True},
    )
    joined_on = models.DateField(default=timezone.localdate)
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [("view_all_partners", "Can see every partner")]
        indexes = [models.Index(fields=["region", "status"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """A status edit follows the lifecycle (``PARTNER_STATE_MOVES``)."""
        if self.pk is None:
            return
        stored = Partner.objects.filter(pk=self.pk).values_list("status", flat=True).first()
        if stored is not None and stored != self.status and (stored, self.status) not in PARTNER_STATE_MOVES:
            raise ValidationError({"status": partner_move_refusal(stored, self.status)}, code="conflict")


class ManagerProfileQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "ManagerProfileQuerySet":
        """Those who grant coverage see every profile; other staff their own; nobody else any.
        Coverage is no business of integrations: tokens see none."""
        user = principal_user(principal)
        if principal_token(principal) is not None:
            return self.none()
        if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
            return self.none()
        if ManagerProfile.may_grant(user):
            return self.all()
        return self.filter(user=user)


@tracked()
class ManagerProfile(models.Model):
    """A channel manager's coverage: the regions whose partners they look after.

    Coverage decides what a manager sees everywhere (portal, API, admin), so
    it is granted by superusers or holders of ``partners.grant_coverage``,
    never by the manager it widens.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="manager_profile"
    )
    regions = models.JSONField(default=list, blank=True, help_text='Region codes, e.g. ["emea"].')

    objects = ManagerProfileQuerySet.as_manager()

    class Meta:
        permissions = [
            ("grant_coverage", "Can grant coverage: manager regions and partner assignments"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({', '.join(self.regions) or 'assigned partners only'})"

    def clean(self) -> None:
        valid = set(Region.values)
        if not isinstance(self.regions, list) or not all(r in valid for r in self.regions):
            raise ValidationError(
                {"regions": f"Give a list of region codes among {', '.join(sorted(valid))}."}
            )

    @staticmethod
    def may_grant(user) -> bool:
        """Whether ``user`` may change coverage: manager profiles and the partners assigned to managers."""
        return bool(
            user is not None
            and user.is_authenticated
            and user.is_active
            and (user.is_superuser or (user.is_staff and user.has_perm("partners.grant_coverage")))
        )

    @staticmethod
    def regions_for(user) -> list[str]:
        cached = getattr(user, "_prm_regions", None)
        if cached is None:
            profile = ManagerProfile.objects.filter(user=user).only("regions").first()
            cached = list(profile.regions) if profile else []
            user._prm_regions = cached
        return cached


class MembershipRole(models.TextChoices):
    ADMIN = "admin", "Partner admin"
    SALES = "sales", "Sales"
    TECHNICAL = "technical", "Technical"
    DISTRIBUTOR = "distributor", "Distributor user"


# Partner roles that sell: they register deals and report their outcome.
DEAL_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.SALES})


# Partner roles that spend marketing money and points.
MDF_ROLES = frozenset({MembershipRole.ADMIN})


# Partner roles that run the organisation's own account: its onboarding and its team.
ADMIN_ROLES = frozenset({MembershipRole.ADMIN})


# Partner actions a partner's own users take, and the roles that may.
OWN_ORGANISATION_ACTIONS = {"register_deals": DEAL_ROLES, "spend_mdf": MDF_ROLES, "onboard": ADMIN_ROLES}


class MembershipQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "MembershipQuerySet":
        """Logins of the organisations a user may see.

        Staff see the memberships of the partners and distributors they see
        (``visible_to``); a partner or distributor user only those of its own
        organisation, never the logins of the partners a distributor serves.
        """
        user = principal_user(principal)
        if principal_token(principal) is not None:
            return self.filter(partner__in=Partner.objects.visible_to(principal))
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if sees_every_partner(user):
            return self.all()
        if user.is_staff:
            return self.filter(
                Q(partner__in=Partner.objects.visible_to(user))
                | Q(distributor__in=Distributor.objects.visible_to(user))
            )
        membership = Membership.for_user(user)
        if membership is None:
            return self.none()
        if membership.distributor_id is not None:
            return self.filter(distributor_id=membership.distributor_id)
        return self.filter(partner_id=membership.partner_id)

    def _team_of_admin(self, principal) -> "MembershipQuerySet":
        """The colleagues of a partner admin, never his own login (he cannot lock himself out)."""
        user = principal_user(principal)
        membership = Membership.for_user(user)
        if (
            principal_token(principal) is not None
            or membership is None
            or membership.partner_id is None
            or membership.role not in ADMIN_ROLES
        ):
            return self.none()
        return self.visible_to(principal).filter(partner_id=membership.partner_id).exclude(user=user)

    def _actionable_change(self, principal) -> "MembershipQuerySet":
        """Change a role: staff holding ``partners.change_membership``, on the memberships they
        see; a partner admin, on his colleagues'."""
        if principal_user(principal).is_staff:
            return self._with_model_permission(principal, "change")
        return self._team_of_admin(principal)

    def _actionable_deactivate(self, principal) -> "MembershipQuerySet":
        """Stop a leaver's login: staff holding ``partners.change_membership``, on the partner
        memberships they see; a partner admin, on his colleagues'."""
        if principal_user(principal).is_staff:
            return self._with_model_permission(principal, "change").filter(partner__isnull=False)
        return self._team_of_admin(principal)


@tracked()
class Membership(models.Model):
    """Ties a login to exactly one organisation: a partner or a distributor."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    distributor = models.ForeignKey(
        Distributor, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=MembershipRole.choices)
    updated_at = models.DateTimeField(auto_now=True, help_text="When the membership last changed.")

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="membership_one_organisation",
                condition=(
                    Q(partner__isnull=False, distributor__isnull=True) & ~Q(role=MembershipRole.DISTRIBUTOR)
                )
                | Q(partner__isnull=True, distributor__isnull=False, role=MembershipRole.DISTRIBUTOR),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.organisation} ({self.get_role_display()})"

    @property
    def organisation(self) -> Partner | Distributor | None:
        return self.partner or self.distributor

    def _names(self, organisation: str) -> bool:
        """Whether the membership names this organisation, saved or not.

        A membership added in the same form as its partner (the admin's inline)
        is validated before the partner has an id: it holds the new partner
        object, not yet its id.
        """
        field = cast(models.ForeignKey, self._meta.get_field(organisation))
        if getattr(self, field.attname) is not None:
            return True
        return field.is_cached(self) and field.get_cached_value(self) is not None

    def clean(self) -> None:
        to_partner, to_distributor = self._names("partner"), self._names("distributor")
        if to_partner == to_distributor:
            raise ValidationError("A membership belongs to a partner or to a distributor, not both.")
        if to_distributor and self.role != MembershipRole.DISTRIBUTOR:
            raise ValidationError({"role": "Distributor users have the distributor role."})
        if to_partner and self.role == MembershipRole.DISTRIBUTOR:
            raise ValidationError({"role": "Partner users are admins, sales or technical."})

    @staticmethod
    def for_user(user) -> "Membership | None":
        """The user's membership, cached on the user object for the request."""
        if not getattr(user, "is_authenticated", False):
            return None
        if not hasattr(user, "_prm_membership"):
            user._prm_membership = (
                Membership.objects.select_related("partner", "distributor").filter(user=user).first()
            )
        return user._prm_membership


def users_visible_to(principal, users: models.QuerySet | None = None) -> models.QuerySet:
    """The logins a user may know of: the door for ``auth.User``, which has no queryset of ours.

    Superusers see every login. Staff see the members of the partners and
    distributors they see; those who grant coverage also see the staff, whom
    they assign partners and regions to. Nobody else sees logins here (the
    portal shows a partner its own team through ``Person``). A token sees the
    members of the partners it sees, never staff logins: coverage is no business
    of integrations.
    """
    if users is None:
        users = get_user_model()._default_manager.all()
    user = principal_user(principal)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return users.none()
    if principal_token(principal) is not None:
        return users.filter(pk__in=Membership.objects.visible_to(principal).values("user_id"))
    if user.is_superuser:
        return users
    members = Q(pk__in=Membership.objects.visible_to(user).values("user_id"))
    if ManagerProfile.may_grant(user):
        return users.filter(members | Q(is_staff=True))
    return users.filter(members)
