"""Incentive rules and what hangs off them: rates, rebate bands, rewards."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.money import AmountField, CurrencyField
from deals.models import SalesRole
from history.tracking import track_links, tracked
from incentives.models.ledger import LedgerEntry
from incentives.validation import amount_problem, currency_problem, percent_problem
from programs.models import DefinitionQuerySet, Tier


class RuleKind(models.TextChoices):
    MARGIN = "margin", "Tier margin on won deals"
    COMMISSION = "commission", "Self-sufficiency commission"
    REBATE = "rebate", "Volume rebate"
    SPIF = "spif", "SPIF (time-boxed bonus)"
    POINTS = "points", "Engagement points"


DEAL_KINDS = {RuleKind.MARGIN, RuleKind.COMMISSION}


class RebatePeriod(models.TextChoices):
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


class BandMethod(models.TextChoices):
    MARGINAL = "marginal", "Each band's rate on the sales within the band"
    WHOLE = "whole", "The rate of the band reached, on all the period's sales"


class SpifTrigger(models.TextChoices):
    DEAL = "deal", "A won deal (of the product line, if one is set)"
    FIRST_DEAL_IN_LINE = "first_deal_in_line", "The partner's first won deal in a product line"
    CERTIFICATION = "certification", "A certification earned by one of the partner's people"
    ACTIVITY = "activity", "An engagement activity (of the chosen activity types, or any)"


class BudgetPeriod(models.TextChoices):
    QUARTER = "quarter", "Per quarter"
    YEAR = "year", "Per year"
    LIFETIME = "lifetime", "Over the rule's life"


class IncentiveRuleQuerySet(DefinitionQuerySet):
    def in_effect(self, day: datetime.date) -> "IncentiveRuleQuerySet":
        return self.filter(effective_from__lte=day).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=day)
        )

    def overlapping(self, start: datetime.date, end: datetime.date) -> "IncentiveRuleQuerySet":
        return self.filter(effective_from__lte=end).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=start)
        )

    def visible_to(self, principal) -> "IncentiveRuleQuerySet":
        """Rules are the vendor's configuration: staff see them, partners see what they earned."""
        return self._staff_only(principal)


@tracked()
class IncentiveRule(models.Model):
    """What a fact is worth to a partner, in one currency, between two dates."""

    # The fields that decide an amount: frozen once the rule has started or earned.
    TERMS = (
        "kind",
        "program_id",
        "currency",
        "effective_from",
        "product_line_id",
        "min_tier_id",
        "paid_on_signing_percent",
        "activation_days",
        "rebate_period",
        "band_method",
        "spif_trigger",
        "spif_amount",
        "certification_type_id",
        "points_multiplier",
    )

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=RuleKind.choices)
    program = models.ForeignKey(
        "programs.Program",
        on_delete=models.PROTECT,
        related_name="incentive_rules",
        help_text="The program whose tiers the rule reads (the tier held on the day that counts).",
    )
    currency = CurrencyField(
        blank=True, help_text="Every amount the rule produces is in this currency; facts are converted."
    )
    effective_from = models.DateField(help_text="Facts dated from this day on earn under this rule.")
    effective_to = models.DateField(
        null=True, blank=True, help_text="The last day facts earn under this rule; empty for open-ended."
    )
    product_line = models.ForeignKey(
        "partners.ProductLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only deals and sales of this product line; empty for every line.",
    )
    min_tier = models.ForeignKey(
        "programs.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="eligible from tier",
        help_text="Only partners holding this tier or a higher one on the day that counts.",
    )
    paid_on_signing_percent = models.DecimalField(
        max_digits=7,
        decimal_places=3,
        default=Decimal(100),
        verbose_name="paid on signing (%)",
        help_text="Margins and commissions: the share paid when the deal is won; the rest is held "
        "until the customer activates.",
    )
    activation_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days after the close date within which the customer must activate (the last day "
        "counts); the held part is forfeited after that.",
    )
    rebate_period = models.CharField(max_length=8, choices=RebatePeriod.choices, blank=True)
    band_method = models.CharField(
        max_length=8, choices=BandMethod.choices, blank=True, default=BandMethod.MARGINAL
    )
    spif_trigger = models.CharField(max_length=20, choices=SpifTrigger.choices, blank=True)
    spif_amount = AmountField(null=True, blank=True, help_text="SPIFs: the bonus per qualifying event.")
    certification_type = models.ForeignKey(
        "partners.CertificationType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Certification SPIFs: the certification that earns; empty for any.",
    )
    points_multiplier = models.DecimalField(
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Points rules: ledger points per activity point (2 doubles them).",
    )
    activity_types = models.ManyToManyField(
        "partners.ActivityType",
        blank=True,
        related_name="+",
        help_text="Points rules and activity SPIFs: the activities that earn; none selected means all.",
    )
    budget = AmountField(
        null=True,
        blank=True,
        help_text="In the rule's currency. For a SPIF, a hard cap on everything it pays; for the "
        "others, the figure the program cost is measured against.",
    )
    budget_period = models.CharField(
        max_length=8, choices=BudgetPeriod.choices, default=BudgetPeriod.LIFETIME
    )
    supersedes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="superseded_by",
        help_text="The earlier version this rule replaced.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncentiveRuleQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "name", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                name="incentive_rule_has_currency",
                condition=~Q(currency=""),
                violation_error_message="Choose the currency this rule pays in.",
            ),
            models.CheckConstraint(
                name="incentive_rule_dates_in_order",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                violation_error_message="The rule ends before it starts.",
            ),
            models.CheckConstraint(
                name="incentive_rule_signing_percent",
                condition=Q(paid_on_signing_percent__gte=0, paid_on_signing_percent__lte=100),
            ),
            models.CheckConstraint(
                name="incentive_rule_amounts_positive",
                condition=(Q(spif_amount__isnull=True) | Q(spif_amount__gt=0))
                & (Q(budget__isnull=True) | Q(budget__gt=0))
                & (Q(points_multiplier__isnull=True) | Q(points_multiplier__gt=0)),
            ),
        ]
        indexes = [models.Index(fields=["kind", "effective_from"])]

    def __str__(self) -> str:
        return self.name

    @property
    def splits_payout(self) -> bool:
        return self.kind in DEAL_KINDS and self.paid_on_signing_percent < Decimal(100)

    def activation_deadline(self, closed_on: datetime.date) -> datetime.date | None:
        if not self.splits_payout or self.activation_days is None:
            return None
        return closed_on + datetime.timedelta(days=self.activation_days)

    def covers(self, day: datetime.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    # --- the past stays as it was ------------------------------------------------------

    def has_entries(self) -> bool:
        return self.pk is not None and LedgerEntry.objects.filter(rule_id=self.pk).exists()

    def terms_locked(self, today: datetime.date | None = None) -> bool:
        """A rule's terms freeze once it has started (facts may already have earned) or earned."""
        if self.pk is None:
            return False
        today = today or timezone.localdate()
        stored = IncentiveRule.objects.filter(pk=self.pk).values_list("effective_from", flat=True).first()
        if stored is None:
            return False
        return stored < today or self.has_entries()

    def changed_terms(self) -> list[str]:
        """The names of the terms that differ from what is stored."""
        if self.pk is None:
            return []
        stored = IncentiveRule.objects.filter(pk=self.pk).values(*self.TERMS, "budget").first()
        if stored is None:
            return []
        changed = [name.removesuffix("_id") for name in self.TERMS if getattr(self, name) != stored[name]]
        # A SPIF's budget is a cap that decided who was paid: it is a term too.
        if self.kind == RuleKind.SPIF and stored["budget"] != self.budget:
            changed.append("budget")
        return changed

    def last_paid_for(self) -> datetime.date | None:
        """The date of the latest fact this rule has paid for."""
        if self.pk is None:
            return None
        return (
            LedgerEntry.objects.filter(rule_id=self.pk)
            .order_by("-event_on")
            .values_list("event_on", flat=True)
            .first()
        )

    # --- validation -----------------------------------------------------------------------

    def clean(self) -> None:
        errors: dict[str, list] = {}

        def add(field: str, message: str | None) -> None:
            if message:
                errors.setdefault(field, []).append(message)

        add("currency", currency_problem(self.currency))
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            add("effective_to", "The rule ends before it starts: choose a last day on or after the first.")
        if self.program_id and self.min_tier_id:
            tier_program = (
                Tier.objects.filter(pk=self.min_tier_id).values_list("program_id", flat=True).first()
            )
            if tier_program != self.program_id:
                add("min_tier", "Choose a tier of the rule's program.")
        add("budget", amount_problem(self.budget, label="The budget"))
        add(
            "paid_on_signing_percent",
            percent_problem(self.paid_on_signing_percent, label="The share paid on signing"),
        )
        self._clean_kind(add)
        if self.pk is not None and self.terms_locked():
            changed = self.changed_terms()
            if changed:
                # A conflict with the rule's present state (the API answers 409): the same
                # change is accepted on a rule that has not started.
                errors.setdefault("__all__", []).append(
                    ValidationError(
                        "This rule has started or already earned money, so its terms ("
                        + ", ".join(name.replace("_", " ") for name in changed)
                        + ") can no longer change: the past is paid under them. Create a new version "
                        "from a future date instead.",
                        code="conflict",
                    )
                )
            if self.effective_to is not None:
                yesterday = timezone.localdate() - datetime.timedelta(days=1)
                last_paid = self.last_paid_for()
                # Conflicts with what the rule has already paid (409): a rule that has not
                # started may end on any day from its first.
                if last_paid is not None and self.effective_to < last_paid:
                    errors.setdefault("effective_to", []).append(
                        ValidationError(
                            f"This rule has already paid for facts up to {last_paid:%d %b %Y}; "
                            "it cannot end before that.",
                            code="conflict",
                        )
                    )
                elif self.effective_to < yesterday:
                    errors.setdefault("effective_to", []).append(
                        ValidationError(
                            "A rule that has started cannot end in the past: facts already earned under "
                            f"it. The earliest last day is {yesterday:%d %b %Y}.",
                            code="conflict",
                        )
                    )
        if errors:
            raise ValidationError(errors)

    def _clean_kind(self, add) -> None:
        kind = self.kind
        if kind in DEAL_KINDS:
            if self.paid_on_signing_percent is not None and self.paid_on_signing_percent < Decimal(100):
                if self.activation_days is None:
                    add(
                        "activation_days",
                        "Say within how many days of the close date the customer must activate: "
                        "the held part is forfeited after that.",
                    )
                elif self.activation_days < 1:
                    add("activation_days", "Give at least one day for the customer to activate.")
            elif self.activation_days is not None:
                add("activation_days", "Activation days only apply when part of the payout is held.")
        else:
            if self.paid_on_signing_percent is not None and self.paid_on_signing_percent != Decimal(100):
                add("paid_on_signing_percent", "Only margins and commissions can hold part of a payout.")
            if self.activation_days is not None:
                add("activation_days", "Only margins and commissions wait for customer activation.")
        if kind == RuleKind.REBATE:
            if not self.rebate_period:
                add("rebate_period", "Say whether the rebate runs over a quarter or a year.")
            if not self.band_method:
                add("band_method", "Say how the volume bands apply.")
        elif self.rebate_period:
            add("rebate_period", "Only rebates run over a period.")
        if kind == RuleKind.SPIF:
            if not self.spif_trigger:
                add(
                    "spif_trigger",
                    "Say what earns the SPIF: a won deal, a first deal in a line, a certification "
                    "or an engagement activity.",
                )
            if self.spif_amount is None:
                add("spif_amount", "Give the bonus a SPIF pays per qualifying event.")
            else:
                add("spif_amount", amount_problem(self.spif_amount, label="The bonus"))
            if self.effective_to is None:
                add("effective_to", "A SPIF is time-boxed: give the last day it runs.")
            if self.certification_type_id and self.spif_trigger != SpifTrigger.CERTIFICATION:
                add("certification_type", "A certification only applies to certification SPIFs.")
        else:
            if self.spif_trigger:
                add("spif_trigger", "Only SPIFs have a trigger.")
            if self.spif_amount is not None:
                add("spif_amount", "Only SPIFs pay a fixed bonus.")
            if self.certification_type_id:
                add("certification_type", "A certification only applies to certification SPIFs.")
        if kind == RuleKind.POINTS:
            if self.points_multiplier is None:
                add(
                    "points_multiplier",
                    "Give the ledger points per activity point (1 keeps them as they are).",
                )
            else:
                add("points_multiplier", amount_problem(self.points_multiplier, label="The multiplier"))
        elif self.points_multiplier is not None:
            add("points_multiplier", "Only points rules multiply activity points.")


@tracked()
class MarginRate(models.Model):
    """A tier margin: the percentage of a won deal a partner holding ``tier`` earns."""

    rule = models.ForeignKey(IncentiveRule, on_delete=models.CASCADE, related_name="margin_rates")
    tier = models.ForeignKey("programs.Tier", on_delete=models.PROTECT, related_name="+")
    product_line = models.ForeignKey(
        "partners.ProductLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every product line without a rate of its own.",
    )
    percent = models.DecimalField(max_digits=7, decimal_places=3)

    class Meta:
        ordering = ["rule", "tier__rank", "product_line__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "tier", "product_line"],
                name="margin_rate_unique_line",
                condition=Q(product_line__isnull=False),
                violation_error_message="This tier already has a rate for this product line.",
                violation_error_code="unique",
            ),
            models.UniqueConstraint(
                fields=["rule", "tier"],
                name="margin_rate_unique_default",
                condition=Q(product_line__isnull=True),
                violation_error_message="This tier already has a rate for every product line.",
                violation_error_code="unique",
            ),
            models.CheckConstraint(name="margin_rate_percent", condition=Q(percent__gte=0, percent__lte=100)),
        ]

    def __str__(self) -> str:
        return f"{self.percent.normalize():f} %"

    def clean(self) -> None:
        problem = percent_problem(self.percent, label="The margin")
        if problem:
            raise ValidationError({"percent": problem})


@tracked()
class CommissionRate(models.Model):
    """A commission rate for who sourced and who closed the deal: self-sufficiency pays more."""

    rule = models.ForeignKey(IncentiveRule, on_delete=models.CASCADE, related_name="commission_rates")
    sourced_by = models.CharField(max_length=8, choices=SalesRole.choices)
    closed_by = models.CharField(max_length=8, choices=SalesRole.choices)
    percent = models.DecimalField(max_digits=7, decimal_places=3)

    class Meta:
        ordering = ["rule", "-sourced_by", "-closed_by"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "sourced_by", "closed_by"],
                name="commission_rate_unique_roles",
                violation_error_message="This rule already has a rate for who sourced and who closed.",
                violation_error_code="unique",
            ),
            models.CheckConstraint(
                name="commission_rate_percent", condition=Q(percent__gte=0, percent__lte=100)
            ),
        ]

    def __str__(self) -> str:
        return f"sourced by {self.sourced_by}, closed by {self.closed_by}: {self.percent.normalize():f} %"

    def clean(self) -> None:
        problem = percent_problem(self.percent, label="The commission rate")
        if problem:
            raise ValidationError({"percent": problem})


@tracked()
class RebateBand(models.Model):
    """A volume band of a rebate: sales from ``lower_bound`` up to (not including) ``upper_bound``."""

    rule = models.ForeignKey(IncentiveRule, on_delete=models.CASCADE, related_name="rebate_bands")
    lower_bound = AmountField(help_text="In the rule's currency; 0 for the first band.")
    upper_bound = AmountField(null=True, blank=True, help_text="Empty for the highest, open-ended band.")
    percent = models.DecimalField(max_digits=7, decimal_places=3)

    class Meta:
        ordering = ["rule", "lower_bound"]
        constraints = [
            models.CheckConstraint(name="rebate_band_lower_not_negative", condition=Q(lower_bound__gte=0)),
            models.CheckConstraint(
                name="rebate_band_upper_above_lower",
                condition=Q(upper_bound__isnull=True) | Q(upper_bound__gt=models.F("lower_bound")),
            ),
            models.CheckConstraint(name="rebate_band_percent", condition=Q(percent__gte=0, percent__lte=100)),
        ]

    def __str__(self) -> str:
        upper = f"{self.upper_bound.normalize():,f}" if self.upper_bound is not None else "∞"
        return f"{self.lower_bound.normalize():,f}–{upper}: {self.percent.normalize():f} %"


@tracked()
class Reward(models.Model):
    """Something a partner can redeem engagement points for, worth an amount in the rule's currency."""

    rule = models.ForeignKey(IncentiveRule, on_delete=models.CASCADE, related_name="rewards")
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=300, blank=True)
    points_cost = models.PositiveIntegerField()
    amount = AmountField(help_text="What the partner is paid, in the rule's currency.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["points_cost", "name"]
        constraints = [
            models.CheckConstraint(name="reward_cost_positive", condition=Q(points_cost__gt=0)),
            models.CheckConstraint(name="reward_amount_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.points_cost:,} points)"

    def clean(self) -> None:
        errors = {}
        if self.points_cost is not None and self.points_cost <= 0:
            errors["points_cost"] = "A reward costs at least one point."
        problem = amount_problem(self.amount, label="The reward's value")
        if self.amount is None:
            problem = "Give what the reward is worth."
        if problem:
            errors["amount"] = problem
        if errors:
            raise ValidationError(errors)


track_links(IncentiveRule.activity_types.through, name="IncentiveRuleActivityTypeLinkEvent")
