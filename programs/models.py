"""Programs, their ordered tiers, the benefits tiers and gates unlock, and segments.

A segment is a named criteria tree (the gate language) that decides which
partners may see a program: a partner never sees a program whose segment it
is not in.
"""

from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from guardian.shortcuts import get_objects_for_user

from core.door import DoorQuerySet, acts_vendor_wide, is_active_user, principal_user
from core.money import AmountField, CurrencyField
from history.tracking import track_links, tracked
from partners.models import Membership, Partner
from programs.hooks import criteria_errors

MANAGE_PROGRAM = "programs.manage_program"


def programs_managed_by(principal: Any) -> "ProgramQuerySet":
    """The programs whose definitions ``principal`` may change: one flat queryset, no query yet.

    A superuser manages every program, and so does staff holding
    ``programs.manage_program`` for all programs (a global grant). Other staff
    manage the programs they, or one of their groups, were granted in the
    admin's "program managers" panel (django-guardian's per-object rights, kept
    in direct foreign-key tables so that this is a join, not a generic lookup).
    A token for some partners only manages nothing: definitions apply to all.
    """
    user = principal_user(principal)
    if not is_active_user(user) or not user.is_staff or not acts_vendor_wide(principal):
        return Program.objects.none()
    if user.is_superuser:
        return Program.objects.all()
    managed = get_objects_for_user(user, MANAGE_PROGRAM, klass=Program, accept_global_perms=True)
    return cast(ProgramQuerySet, managed)


def program_open_to(partners: Any, *, prefix: str = "") -> Q:
    """The one rule of visibility between partners and programs: a partner never learns of a
    program outside its segments.

    A program is open to a partner when it is active and has no segment or the
    partner is in its segment. ``partners`` is one partner, a queryset of
    partners (open to at least one of them), or an expression naming the
    partner of each row (``OuterRef("partner_id")``); ``prefix`` is the path
    from the filtered model to the program (``"program"``, ``"gate__program"``).
    """
    path = f"{prefix}__" if prefix else ""
    if isinstance(partners, models.Model):
        members = Segment.objects.filter(memberships__partner_id=partners.pk)
    elif isinstance(partners, models.QuerySet):
        members = Segment.objects.filter(memberships__partner__in=partners)
    else:
        members = Segment.objects.filter(memberships__partner_id=partners)
    return Q(**{f"{path}is_active": True}) & (
        Q(**{f"{path}segment__isnull": True}) | Q(**{f"{path}segment__in": members.values("pk")})
    )


class DefinitionQuerySet(DoorQuerySet):
    """A program's definitions (tiers, benefits, gates, rules): staff see them all, partners those
    of the programs they see; managing them takes the right to manage their program
    (``program_path``)."""

    program_path = "program"
    # Coverage does not narrow definitions: every staff member sees them all (the admin relies on it).
    same_for_all_staff = True

    def visible_to(self, principal):
        user = principal_user(principal)
        if is_active_user(user) and user.is_staff:
            return self.all()
        return self.filter(**{f"{self.program_path}__in": Program.objects.visible_to(principal)})

    def _staff_only(self, principal):
        user = principal_user(principal)
        if not is_active_user(user) or not user.is_staff:
            return self.none()
        return self.all()

    def _actionable_manage(self, principal):
        """Change or delete the definition: a manager of its program (superusers manage all)."""
        managed = programs_managed_by(principal)
        if principal_user(principal).is_superuser and acts_vendor_wide(principal):
            return self.all()
        return self.filter(**{f"{self.program_path}__in": managed.values("pk")})


class ProgramKind(models.TextChoices):
    MAIN = "main", "Main partner program"
    DEAL_REGISTRATION = "deal_registration", "Deal registration"
    CO_SELLING = "co_selling", "Co-selling"
    MDF = "mdf", "Market development funds"
    REBATE = "rebate", "Rebates"
    SPECIALISATION = "specialisation", "Specialisation"
    ENABLEMENT = "enablement", "Enablement"


class SegmentQuerySet(DefinitionQuerySet):
    """Segments are the vendor's targeting: staff see them, partners never do."""

    def visible_to(self, principal):
        return self._staff_only(principal)

    def _actionable_manage(self, principal):
        """A segment decides who sees every program it targets, so changing it takes the right to
        manage each of them; a segment no program uses yet, the right to manage any program."""
        if principal_user(principal).is_superuser and acts_vendor_wide(principal):
            return self.all()
        managed = programs_managed_by(principal)
        if not managed.exists():
            return self.none()
        others = Program.objects.exclude(pk__in=managed.values("pk")).filter(segment__isnull=False)
        return self.exclude(pk__in=others.values("segment_id"))


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Published, not yet in effect"
    CURRENT = "current", "Current"
    SUPERSEDED = "superseded", "Superseded"


class CriteriaVersion(models.Model):
    """One version of a definition's criteria (a gate's, a segment's): drafted, published from a
    day, then current, then superseded, and read-only once published.

    The owner is in use while partners are decided by it; its criteria then
    change only by publishing a version (``programs.versioning``).
    """

    State = VersionState

    version = models.PositiveIntegerField()
    criteria = models.JSONField()
    currency = CurrencyField(help_text="The currency money criteria were measured in.")
    state = models.CharField(max_length=10, choices=VersionState.choices, default=VersionState.CURRENT)
    effective_from = models.DateField(
        null=True, blank=True, help_text="The day a published version becomes the criteria in force."
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    @property
    def read_only(self) -> bool:
        return self.state != VersionState.DRAFT


def refuse_edit_in_place(
    instance: models.Model, update_fields: Any, in_use: models.QuerySet, noun: str
) -> None:
    """A definition in use (``in_use`` is its row while it is) changes its criteria only by
    publishing a version (``programs.versioning.version_publish``), whatever door saves it."""
    if instance.pk is None or getattr(instance, "_publishing", False):
        return
    if update_fields is not None and not {"criteria", "currency"} & set(update_fields):
        return
    stored = in_use.values_list("criteria", "currency").first()
    if stored is not None and stored != (instance.criteria, instance.currency):  # type: ignore[attr-defined]
        raise ValidationError(
            {"criteria": f"{noun} is not edited in place: save a draft version and publish it."}
        )


@tracked()
class Segment(models.Model):
    """A set of partners defined by a criteria tree over their attributes and measures.

    Once a program targets it, its criteria change only by publishing a
    version (``SegmentVersion``), as an active gate's do.
    """

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    criteria = models.JSONField(
        help_text="A criteria tree in the gate language, e.g. "
        '{"all": [{"metric": "partner_attribute", "attribute": "country", "op": "in", '
        '"target": ["GB"]}]}.'
    )
    currency = CurrencyField(default="USD", help_text="Currency of money criteria.")
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SegmentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        in_use = Segment.objects.filter(pk=self.pk, programs__isnull=False).distinct()
        refuse_edit_in_place(self, kwargs.get("update_fields"), in_use, "A segment in use")
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = criteria_errors(self.criteria, default_currency=self.currency)
        if errors:
            raise ValidationError({"criteria": errors})

    @property
    def in_use(self) -> bool:
        """A program targets it: its members are who sees that program."""
        return self.pk is not None and Program.objects.filter(segment_id=self.pk).exists()


class SegmentVersionQuerySet(DefinitionQuerySet):
    """Like segments: staff see them; changing one takes the right to change its segment."""

    def visible_to(self, principal):
        return self._staff_only(principal)

    def _actionable_manage(self, principal):
        return self.filter(segment__in=Segment.objects.actionable_by(principal, "manage"))


class SegmentVersion(CriteriaVersion):
    """The criteria of each version of a segment; memberships say which version decided them."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="versions")

    objects = SegmentVersionQuerySet.as_manager()

    class Meta:
        ordering = ["segment", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "version"], name="segment_version_unique"),
            models.UniqueConstraint(
                fields=["segment"],
                condition=Q(state="draft"),
                name="segment_version_one_draft",
                violation_error_message="This segment already has a draft.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} v{self.version}"

    @property
    def owner(self) -> Segment:
        return self.segment


class ProgramQuerySet(DefinitionQuerySet):
    program_path = "pk"

    def visible_to(self, principal) -> "ProgramQuerySet":
        """Programs a user may know exist.

        Staff see every program. A partner user sees the programs open to its
        organisation (``program_open_to``). A distributor user sees the programs
        open to at least one partner it serves. Anybody else sees nothing.
        """
        user = principal_user(principal)
        if not is_active_user(user):
            return self.none()
        if user.is_staff:
            return self.all()
        if Membership.for_user(user) is None:
            return self.none()
        return self.filter(program_open_to(Partner.objects.visible_to(principal)))

    def for_partner(self, partner) -> "ProgramQuerySet":
        """The programs one partner may see, whoever asks."""
        return self.filter(program_open_to(partner))


@tracked()
class Program(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=24, choices=ProgramKind.choices, default=ProgramKind.MAIN)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_programs",
        help_text="The main program a sub-program (deal registration, MDF...) belongs to.",
    )
    description = models.TextField(blank=True)
    base_currency = CurrencyField(default="USD")
    segment = models.ForeignKey(
        Segment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="programs",
        help_text="Only partners in this segment see the program; empty means every partner.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProgramQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [
            ("manage_program", "Can manage the program: its tiers, benefits, segments, gates and rules"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.parent_id is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": "A program cannot be its own parent."})
        if self.pk is not None and self.parent_id is not None:
            # Walk up from the new parent: meeting this program again would close a loop.
            parents = dict(Program.objects.exclude(parent=None).values_list("pk", "parent_id"))
            seen = {self.pk}
            ancestor: int | None = self.parent_id
            while ancestor is not None:
                if ancestor in seen:
                    raise ValidationError(
                        {
                            "parent": "This parent is already below this program: programs cannot nest in a loop."
                        }
                    )
                seen.add(ancestor)
                ancestor = parents.get(ancestor)


@tracked()
class Tier(models.Model):
    """An ordered level of a program: a higher rank is a higher tier."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(help_text="1 is the lowest tier; higher ranks are higher tiers.")
    grace_days = models.PositiveSmallIntegerField(
        default=90, help_text="Days a partner keeps this tier after it stops qualifying."
    )
    description = models.TextField(blank=True)

    objects = DefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["program", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "rank"],
                name="tier_unique_rank",
                violation_error_message="Another tier of this program already has this rank.",
                violation_error_code="unique",
            ),
            models.UniqueConstraint(
                fields=["program", "name"],
                name="tier_unique_name",
                violation_error_message="Another tier of this program already has this name.",
                violation_error_code="unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.name} – {self.name}" if self.program_id else self.name


class BenefitKind(models.TextChoices):
    DISCOUNT = "discount", "Discount / margin %"
    REBATE = "rebate", "Rebate %"
    COMMISSION = "commission", "Commission rate %"
    MDF_ALLOWANCE = "mdf_allowance", "MDF allowance"
    CO_SELLING = "co_selling", "Co-selling access"
    DEAL_REGISTRATION = "deal_registration", "Deal-registration rights"
    CONTENT = "content", "Content access"


PERCENT_KINDS = {BenefitKind.DISCOUNT, BenefitKind.REBATE, BenefitKind.COMMISSION}
ACCESS_KINDS = {BenefitKind.CO_SELLING, BenefitKind.DEAL_REGISTRATION, BenefitKind.CONTENT}


class AllowancePeriod(models.TextChoices):
    QUARTER = "quarter", "Per quarter"
    YEAR = "year", "Per year"


@tracked()
class Benefit(models.Model):
    """Something a tier or a gate unlocks.

    Percentages (discount, rebate, commission) are stored as percent: 15 means
    15 %. An MDF allowance is an amount with a currency per period.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="benefits")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=BenefitKind.choices)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount = AmountField(null=True, blank=True)
    currency = CurrencyField(blank=True)
    period = models.CharField(max_length=8, choices=AllowancePeriod.choices, blank=True)
    product_line = models.ForeignKey(
        "partners.ProductLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="Limit a discount or rebate to one product line.",
    )
    customer_segment = models.ForeignKey(
        "partners.CustomerSegment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="benefits",
        help_text="Limit the benefit to customers of one segment (deal registration: only their deals).",
    )
    description = models.TextField(blank=True)
    tiers = models.ManyToManyField(Tier, blank=True, related_name="benefits")

    objects = DefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["program", "kind", "name"]
        constraints = [
            models.CheckConstraint(
                name="benefit_percent_range",
                condition=Q(percent__isnull=True) | Q(percent__gte=0, percent__lte=100),
            ),
            models.CheckConstraint(
                name="benefit_amount_positive", condition=Q(amount__isnull=True) | Q(amount__gt=0)
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind in PERCENT_KINDS:
            if self.percent is None:
                errors["percent"] = "Give the percentage this benefit grants."
            elif not Decimal(0) <= self.percent <= Decimal(100):
                errors["percent"] = "A percentage lies between 0 and 100."
        elif self.kind == BenefitKind.MDF_ALLOWANCE:
            if self.amount is None or self.amount <= 0:
                errors["amount"] = "An MDF allowance needs an amount greater than zero."
            if not self.currency:
                errors["currency"] = "An MDF allowance needs a currency."
            if not self.period:
                errors["period"] = "Say whether the allowance is per quarter or per year."
        # What another kind of benefit carries, this one must leave empty: a stray value would read
        # as part of the benefit on every page that shows it.
        if self.kind != BenefitKind.MDF_ALLOWANCE:
            kind = "A percentage benefit" if self.kind in PERCENT_KINDS else "An access benefit"
            for field, what in (("amount", "amount"), ("currency", "currency"), ("period", "period")):
                if getattr(self, field) not in (None, ""):
                    errors[field] = f"{kind} has no {what}: only an MDF allowance does."
        if self.kind not in PERCENT_KINDS and self.percent is not None:
            kind = "An MDF allowance" if self.kind == BenefitKind.MDF_ALLOWANCE else "An access benefit"
            errors["percent"] = f"{kind} has no percentage: only a discount, rebate or commission does."
        if errors:
            raise ValidationError(errors)

    def describe(self) -> str:
        if self.kind in PERCENT_KINDS and self.percent is not None:
            return f"{self.name}: {self.percent.normalize():f} %"
        if self.kind == BenefitKind.MDF_ALLOWANCE and self.amount is not None:
            return f"{self.name}: {self.amount.normalize():,f} {self.currency} {self.get_period_display().lower()}"
        return self.name


@tracked()
class ProgramUserObjectPermission(UserObjectPermissionBase):
    """A right a user holds on one program (``manage_program``): django-guardian's direct
    foreign-key table, which its performance guide advises over the generic one."""

    content_object = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="user_rights")

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "program manager"


@tracked()
class ProgramGroupObjectPermission(GroupObjectPermissionBase):
    """A right a group holds on one program."""

    content_object = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="group_rights")

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = "program managing group"


track_links(Benefit.tiers.through, name="BenefitTierLinkEvent")
