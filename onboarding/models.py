"""Applications to become a partner, and the onboarding checklist of each program.

An application is a prospect: a company that asked to join, not yet a partner. Staff see the
applications of the regions they cover; accepting one creates the partner (status onboarding)
and invites its first admin. Each program defines its checklist; a partner in onboarding ticks
the items of the programs open to it, and is active once every item is ticked.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_countries.fields import CountryField

from core.door import DoorQuerySet, is_active_user, principal_token, principal_user
from enablement.models import Course
from history.tracking import track_links, tracked
from partners.models import (
    BusinessModel,
    ManagerProfile,
    Partner,
    PartnerScopedQuerySet,
    PartnerType,
    Region,
    sees_every_partner,
)
from programs.models import DefinitionQuerySet, Program


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a decision"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"


class PartnerApplicationQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "PartnerApplicationQuerySet":
        """Staff who see every partner see every application; other staff those of the regions
        they cover; nobody else any. Prospects are no business of integrations: tokens see none."""
        user = principal_user(principal)
        if principal_token(principal) is not None or not is_active_user(user) or not user.is_staff:
            return self.none()
        if sees_every_partner(user):
            return self.all()
        return self.filter(region__in=ManagerProfile.regions_for(user))

    def _actionable_decide(self, principal) -> "PartnerApplicationQuerySet":
        """Accept or decline: staff holding ``onboarding.change_partnerapplication``, on the pending
        applications they see."""
        return self._with_model_permission(principal, "change").filter(status=ApplicationStatus.PENDING)


@tracked()
class PartnerApplication(models.Model):
    """A company's request to become a partner, from the public application page."""

    company = models.CharField(max_length=200)
    country = CountryField()
    region = models.CharField(
        max_length=8, choices=Region.choices, help_text="From the country; correct it before deciding."
    )
    partner_type = models.CharField(max_length=16, choices=PartnerType.choices)
    business_model = models.CharField(max_length=16, choices=BusinessModel.choices)
    website = models.URLField()
    contact_first_name = models.CharField(max_length=100)
    contact_last_name = models.CharField(max_length=100)
    contact_email = models.EmailField(help_text="Invited as the partner's first admin on acceptance.")
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_job_title = models.CharField(max_length=120, blank=True)
    other_contacts = models.TextField(blank=True, help_text="Other people to talk to: names, roles, emails.")
    programs = models.ManyToManyField(Program, blank=True, related_name="applications")
    message = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=ApplicationStatus.choices, default=ApplicationStatus.PENDING
    )
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    partner = models.OneToOneField(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="application"
    )
    submitted_from = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerApplicationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["region", "status"])]

    def __str__(self) -> str:
        return f"{self.company} ({self.get_status_display().lower()})"

    @property
    def contact_name(self) -> str:
        return f"{self.contact_first_name} {self.contact_last_name}".strip()


track_links(PartnerApplication.programs.through, name="PartnerApplicationProgramEvent")


@tracked()
class ProgramAgreement(models.Model):
    """One version of a program's agreement. A version partners accepted is never edited: a new
    text is a new version, and partners accept it in turn."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="agreements")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    text = models.TextField()
    published_at = models.DateTimeField(auto_now_add=True)

    objects = DefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["program", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["program", "version"], name="agreement_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.version})"

    def clean(self) -> None:
        if self.pk is not None and self.acceptances.exists():
            stored = ProgramAgreement.objects.filter(pk=self.pk).values("title", "text", "version").first()
            if stored != {"title": self.title, "text": self.text, "version": self.version}:
                raise ValidationError(
                    "Partners have accepted this version: publish a new version instead of editing it."
                )


class ChecklistItemKind(models.TextChoices):
    AGREEMENT = "agreement", "Accept the program agreement"
    PROFILE = "profile", "Complete the company profile"
    COLLEAGUE = "colleague", "Invite at least one colleague"
    COURSE = "course", "Complete the onboarding course"
    FIRST_DEAL = "first_deal", "Register a first deal"
    MANUAL = "manual", "Ticked by the channel manager"


@tracked()
class ChecklistItem(models.Model):
    """One step of a program's onboarding."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="checklist_items")
    kind = models.CharField(max_length=16, choices=ChecklistItemKind.choices)
    title = models.CharField(max_length=200, blank=True, help_text="Empty: the kind's own words.")
    description = models.TextField(blank=True)
    course = models.ForeignKey(
        Course,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="checklist_items",
        help_text="The onboarding course, for an item of that kind.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    objects = DefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["program", "order", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.title or ChecklistItemKind(self.kind).label

    def clean(self) -> None:
        if self.kind == ChecklistItemKind.COURSE and self.course_id is None:
            raise ValidationError({"course": "Choose the course partners complete for this item."})
        if self.kind != ChecklistItemKind.COURSE and self.course_id is not None:
            raise ValidationError({"course": "Only an onboarding course item names a course."})
        if self.kind == ChecklistItemKind.MANUAL and not self.title:
            raise ValidationError({"title": "Say what the manager checks for this item."})


class ChecklistTickQuerySet(PartnerScopedQuerySet):
    def _actionable_tick(self, principal) -> "ChecklistTickQuerySet":
        """Tick or untick by hand: staff holding ``onboarding.change_checklisttick``, for the
        partners they see."""
        return self._with_model_permission(principal, "change")


@tracked()
class ChecklistTick(models.Model):
    """An item a partner has done: ticked by the system (no ``ticked_by``) or by a manager."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="checklist_ticks")
    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="ticks")
    ticked_at = models.DateTimeField()
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    objects = ChecklistTickQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "item"]
        constraints = [models.UniqueConstraint(fields=["partner", "item"], name="checklist_tick_once")]

    def __str__(self) -> str:
        return f"{self.partner}: {self.item}"


class AgreementAcceptanceQuerySet(PartnerScopedQuerySet):
    pass


@tracked()
class AgreementAcceptance(models.Model):
    """A partner accepted one version of a program's agreement: who, by name, when, from where."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="agreement_acceptances")
    agreement = models.ForeignKey(ProgramAgreement, on_delete=models.PROTECT, related_name="acceptances")
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=200, help_text="The name the person typed to accept.")
    signer_title = models.CharField(max_length=120, blank=True)
    accepted_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AgreementAcceptanceQuerySet.as_manager()

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "agreement"], name="agreement_accepted_once"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} accepted {self.agreement} ({self.signer_name})"


class CompanyProfileQuerySet(PartnerScopedQuerySet):
    pass


# What a complete company profile has, besides the partner's website.
PROFILE_FIELDS = ("description", "phone", "address")


@tracked()
class CompanyProfile(models.Model):
    """What a partner tells about itself, beyond what the vendor records on the partner."""

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="company_profile")
    description = models.TextField(blank=True, help_text="What the company does, for whom.")
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompanyProfileQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Profile of {self.partner}"

    def is_complete(self, partner: Partner) -> bool:
        return bool(partner.website) and all(getattr(self, name).strip() for name in PROFILE_FIELDS)
