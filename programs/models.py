"""Programs, their ordered tiers, the benefits tiers and gates unlock, and segments.

A segment is a named criteria tree (the gate language) that decides which
partners may see a program: a partner never sees a program whose segment it
is not in.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.money import AmountField, CurrencyField


class ProgramKind(models.TextChoices):
    MAIN = "main", "Main partner program"
    DEAL_REGISTRATION = "deal_registration", "Deal registration"
    CO_SELLING = "co_selling", "Co-selling"
    MDF = "mdf", "Market development funds"
    REBATE = "rebate", "Rebates"
    SPECIALISATION = "specialisation", "Specialisation"
    ENABLEMENT = "enablement", "Enablement"


class Segment(models.Model):
    """A set of partners defined by a criteria tree over their attributes and measures."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    criteria = models.JSONField(
        help_text="A criteria tree in the gate language, e.g. "
        '{"all": [{"metric": "partner_attribute", "attribute": "country", "op": "in", '
        '"target": ["GB"]}]}.'
    )
    currency = CurrencyField(default="USD", help_text="Currency of money criteria.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from gates.validation import criteria_errors

        errors = criteria_errors(self.criteria, default_currency=self.currency)
        if errors:
            raise ValidationError({"criteria": errors})


class ProgramQuerySet(models.QuerySet["Program"]):
    def visible_to(self, user) -> "ProgramQuerySet":
        """Programs a user may know exist.

        Staff see every program. A partner user sees the active programs open
        to all partners and those whose segment its organisation belongs to.
        A distributor user sees the programs visible to at least one partner
        it serves. Anybody else sees nothing.
        """
        from partners.models import Membership, Partner

        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_staff:
            return self.all()
        membership = Membership.for_user(user)
        if membership is None:
            return self.none()
        partners = Partner.objects.visible_to(user)
        return (
            self.filter(is_active=True)
            .filter(Q(segment__isnull=True) | Q(segment__memberships__partner__in=partners))
            .distinct()
        )

    def for_partner(self, partner) -> "ProgramQuerySet":
        return (
            self.filter(is_active=True)
            .filter(Q(segment__isnull=True) | Q(segment__memberships__partner=partner))
            .distinct()
        )


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

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.parent_id is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": "A program cannot be its own parent."})


class Tier(models.Model):
    """An ordered level of a program: a higher rank is a higher tier."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(help_text="1 is the lowest tier; higher ranks are higher tiers.")
    grace_days = models.PositiveSmallIntegerField(
        default=90, help_text="Days a partner keeps this tier after it stops qualifying."
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["program", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "rank"],
                name="tier_unique_rank",
                violation_error_message="Another tier of this program already has this rank.",
            ),
            models.UniqueConstraint(
                fields=["program", "name"],
                name="tier_unique_name",
                violation_error_message="Another tier of this program already has this name.",
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
    description = models.TextField(blank=True)
    tiers = models.ManyToManyField(Tier, blank=True, related_name="benefits")

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
            if self.amount is not None:
                errors["amount"] = "A percentage benefit has no amount."
        elif self.kind == BenefitKind.MDF_ALLOWANCE:
            if self.amount is None or self.amount <= 0:
                errors["amount"] = "An MDF allowance needs an amount greater than zero."
            if not self.currency:
                errors["currency"] = "An MDF allowance needs a currency."
            if not self.period:
                errors["period"] = "Say whether the allowance is per quarter or per year."
        elif self.kind in ACCESS_KINDS and (self.percent is not None or self.amount is not None):
            errors["kind"] = "Access benefits carry no percentage or amount."
        if errors:
            raise ValidationError(errors)

    def describe(self) -> str:
        if self.kind in PERCENT_KINDS and self.percent is not None:
            return f"{self.name}: {self.percent.normalize():f} %"
        if self.kind == BenefitKind.MDF_ALLOWANCE and self.amount is not None:
            return f"{self.name}: {self.amount.normalize():,f} {self.currency} {self.get_period_display().lower()}"
        return self.name
