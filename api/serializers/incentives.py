"""Incentive rules (validated like the admin's), statements, ledger entries and activations."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.exceptions import django_errors
from api.scoping import request_principal
from core.money import CURRENCY_CHOICES
from core.serializers import StrictModelSerializer, StrictSerializer
from deals.models import Deal, SalesRole
from incentives.models import (
    CommissionRate,
    CustomerActivation,
    IncentiveRule,
    LedgerEntry,
    MarginRate,
    RebateBand,
    Reward,
    RuleKind,
)
from incentives.validation import (
    LOCKED_MESSAGE,
    ROWS_OF_KIND,
    BandInput,
    band_problems,
    duplicate_problems,
    rows_problem,
)
from partners.models import ActivityType, CertificationType, ProductLine
from programs.models import Program, Tier


class MarginRateSerializer(StrictModelSerializer):
    tier = serializers.PrimaryKeyRelatedField(queryset=Tier.objects.all())
    product_line = serializers.PrimaryKeyRelatedField(
        queryset=ProductLine.objects.all(), allow_null=True, required=False, help_text="Empty for every line."
    )
    percent = serializers.DecimalField(max_digits=7, decimal_places=3)

    class Meta:
        model = MarginRate
        fields = ["tier", "product_line", "percent"]
        validators: list = []


class CommissionRateSerializer(StrictModelSerializer):
    sourced_by = serializers.ChoiceField(choices=SalesRole.choices)
    closed_by = serializers.ChoiceField(choices=SalesRole.choices)
    percent = serializers.DecimalField(max_digits=7, decimal_places=3)

    class Meta:
        model = CommissionRate
        fields = ["sourced_by", "closed_by", "percent"]
        validators: list = []


class RebateBandSerializer(StrictModelSerializer):
    lower_bound = serializers.DecimalField(max_digits=16, decimal_places=4)
    upper_bound = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True, required=False)
    percent = serializers.DecimalField(max_digits=7, decimal_places=3)

    class Meta:
        model = RebateBand
        fields = ["lower_bound", "upper_bound", "percent"]
        validators: list = []


class RewardSerializer(StrictModelSerializer):
    id = serializers.IntegerField(required=False, help_text="To change an existing reward; omit to add one.")
    amount = serializers.DecimalField(max_digits=16, decimal_places=4)

    class Meta:
        model = Reward
        fields = ["id", "name", "description", "points_cost", "amount", "is_active"]
        validators: list = []


ROW_SERIALIZERS = {"margin_rates": MarginRate, "commission_rates": CommissionRate, "rebate_bands": RebateBand}
ROW_KINDS = {
    "margin_rates": RuleKind.MARGIN,
    "commission_rates": RuleKind.COMMISSION,
    "rebate_bands": RuleKind.REBATE,
}


class IncentiveRuleSerializer(StrictModelSerializer):
    """A rule with its rows. Refused like in the admin: rates above 100 %, negative amounts,
    overlapping bands, no currency, and any change of terms once the rule has started."""

    program = serializers.PrimaryKeyRelatedField(queryset=Program.objects.all())
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False, allow_blank=True)
    product_line = serializers.PrimaryKeyRelatedField(
        queryset=ProductLine.objects.all(), allow_null=True, required=False
    )
    min_tier = serializers.PrimaryKeyRelatedField(
        queryset=Tier.objects.all(), allow_null=True, required=False
    )
    certification_type = serializers.PrimaryKeyRelatedField(
        queryset=CertificationType.objects.all(), allow_null=True, required=False
    )
    activity_types = serializers.PrimaryKeyRelatedField(
        queryset=ActivityType.objects.all(), many=True, required=False
    )
    paid_on_signing_percent = serializers.DecimalField(max_digits=7, decimal_places=3, required=False)
    spif_amount = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True, required=False)
    budget = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True, required=False)
    points_multiplier = serializers.DecimalField(
        max_digits=7, decimal_places=3, allow_null=True, required=False
    )
    margin_rates = MarginRateSerializer(many=True, required=False)
    commission_rates = CommissionRateSerializer(many=True, required=False)
    rebate_bands = RebateBandSerializer(many=True, required=False)
    rewards = RewardSerializer(many=True, required=False)

    class Meta:
        model = IncentiveRule
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "program",
            "currency",
            "effective_from",
            "effective_to",
            "product_line",
            "min_tier",
            "paid_on_signing_percent",
            "activation_days",
            "rebate_period",
            "band_method",
            "spif_trigger",
            "spif_amount",
            "certification_type",
            "points_multiplier",
            "activity_types",
            "budget",
            "budget_period",
            "supersedes",
            "margin_rates",
            "commission_rates",
            "rebate_bands",
            "rewards",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "supersedes", "created_at", "updated_at"]
        validators: list = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rows = {name: attrs.pop(name, None) for name in (*ROW_SERIALIZERS, "rewards")}
        activity_types = attrs.pop("activity_types", None)
        rule = IncentiveRule() if self.instance is None else IncentiveRule.objects.get(pk=self.instance.pk)
        for name, value in attrs.items():
            setattr(rule, name, value)
        for name in ("currency", "rebate_period", "spif_trigger", "band_method", "description"):
            if getattr(rule, name) is None:
                setattr(rule, name, "")
        if rule.paid_on_signing_percent is None:
            rule.paid_on_signing_percent = Decimal(100)
        try:
            rule.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from exc
        errors: dict[str, list] = {}
        locked = rule.pk is not None and rule.terms_locked()
        for name, model in ROW_SERIALIZERS.items():
            given = rows[name]
            count = len(given) if given is not None else (self._stored_count(rule, name) if rule.pk else 0)
            problem = rows_problem(
                rule_kind=rule.kind,
                rule_kind_label=rule.get_kind_display(),
                rows_kind=ROW_KINDS[name],
                count=count,
            )
            if problem:
                errors.setdefault(name, []).append(problem)
            elif given is not None:
                if locked and self._changed(rule, name, given):
                    errors.setdefault(name, []).append(
                        ErrorDetail(
                            LOCKED_MESSAGE.format(what=ROWS_OF_KIND[ROW_KINDS[name]]), code="conflict"
                        )
                    )
                errors_for_rows = self._row_problems(rule, name, model, given)
                if errors_for_rows:
                    errors.setdefault(name, []).extend(errors_for_rows)
        if (
            locked
            and activity_types is not None
            and {a.pk for a in activity_types} != set(rule.activity_types.values_list("pk", flat=True))
        ):
            errors.setdefault("activity_types", []).append(
                ErrorDetail(LOCKED_MESSAGE.format(what="activities"), code="conflict")
            )
        if rows["rewards"]:
            if rule.kind != RuleKind.POINTS:
                errors.setdefault("rewards", []).append("Only points rules have rewards: remove them.")
            for row in rows["rewards"]:
                try:
                    Reward(rule=rule, **{k: v for k, v in row.items() if k != "id"}).full_clean(
                        exclude=["rule"]
                    )
                except DjangoValidationError as exc:
                    errors.setdefault("rewards", []).extend(exc.messages)
        if errors:
            raise serializers.ValidationError(errors)
        attrs["_rule"] = rule
        attrs["_rows"] = {**rows, "activity_types": activity_types}
        return attrs

    @staticmethod
    def _stored_count(rule: IncentiveRule, name: str) -> int:
        return getattr(rule, name).count()

    @staticmethod
    def _changed(rule: IncentiveRule, name: str, given: list[dict]) -> bool:
        """Whether the rows sent differ from the stored ones (in any order)."""

        def pk(value):
            return getattr(value, "pk", value)

        def number(value):
            return value.normalize() if value is not None else None

        def key(values: dict) -> tuple:
            if name == "margin_rates":
                return (pk(values["tier"]), pk(values.get("product_line")), number(values["percent"]))
            if name == "commission_rates":
                return (values["sourced_by"], values["closed_by"], number(values["percent"]))
            return (
                number(values["lower_bound"]),
                number(values.get("upper_bound")),
                number(values["percent"]),
            )

        stored = [
            key({field.name: getattr(row, field.attname) for field in row._meta.concrete_fields})
            for row in getattr(rule, name).all()
        ]
        return sorted(map(str, stored)) != sorted(str(key(row)) for row in given)

    @staticmethod
    def _row_problems(rule: IncentiveRule, name: str, model, given: list[dict]) -> list[str]:
        problems: list[str] = []
        if name == "rebate_bands":
            return band_problems(
                BandInput(row.get("lower_bound"), row.get("upper_bound"), row.get("percent")) for row in given
            )
        for row in given:
            try:
                model(**row).clean()
            except DjangoValidationError as exc:
                problems.extend(exc.messages)
        if name == "margin_rates":
            for row in given:
                if row["tier"].program_id != rule.program_id:
                    problems.append(f"{row['tier']} is not a tier of the rule's program.")
            problems += duplicate_problems(
                [(row["tier"].pk, getattr(row.get("product_line"), "pk", None)) for row in given],
                lambda key: (
                    f"Tier {key[0]} on {'product line ' + str(key[1]) if key[1] else 'every product line'}"
                ),
                what="rates",
            )
        else:
            problems += duplicate_problems(
                [(row["sourced_by"], row["closed_by"]) for row in given],
                lambda key: f"Sourced by the {key[0]}, closed by the {key[1]},",
                what="rates",
            )
        return problems


class NewVersionSerializer(StrictSerializer):
    effective_from = serializers.DateField(
        help_text="Today or later; the current version ends the day before."
    )


class LedgerEntrySerializer(StrictModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    rule_kind = serializers.CharField(source="rule.kind", read_only=True)
    tier_name = serializers.CharField(source="tier.name", read_only=True, allow_null=True, default=None)
    amount = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "partner",
            "rule",
            "rule_name",
            "rule_kind",
            "source_type",
            "source_id",
            "component",
            "revision",
            "entry_type",
            "reverses",
            "amount",
            "currency",
            "event_on",
            "period",
            "held_until",
            "tier",
            "tier_name",
            "description",
            "basis",
            "state",
            "state_changed_at",
            "payout",
            "posted_at",
        ]
        read_only_fields = fields


class MoneyMapField(serializers.DictField):
    """Amounts by currency, as strings (PTS: engagement points)."""

    child = serializers.CharField()


class StatementRuleSerializer(StrictSerializer):
    rule = serializers.IntegerField(source="rule_id")
    name = serializers.CharField()
    kind = serializers.CharField()
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)
    entries = serializers.IntegerField()


class StatementMonthSerializer(StrictSerializer):
    month = serializers.DateField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)


class StatementSummarySerializer(StrictSerializer):
    partner = serializers.IntegerField(source="partner.pk")
    partner_name = serializers.CharField(source="partner.name")
    period = serializers.CharField()
    totals = MoneyMapField()
    payable = MoneyMapField()


class StatementSerializer(StrictSerializer):
    partner = serializers.IntegerField(source="partner.pk")
    partner_name = serializers.CharField(source="partner.name")
    period = serializers.CharField(source="period.code")
    totals = MoneyMapField(help_text="What appears in the period, by currency.")
    balances = serializers.DictField(
        child=MoneyMapField(), help_text="Currency → state → amount, all periods."
    )
    points_balance = serializers.IntegerField()
    by_rule = StatementRuleSerializer(many=True)
    lines = LedgerEntrySerializer(many=True)
    held = LedgerEntrySerializer(many=True, source="waiting", help_text="Held parts awaiting activation.")
    months = serializers.DictField(child=StatementMonthSerializer(many=True), help_text="Currency → months.")


def visible_deals(request):
    """The deals the caller sees, narrowed to a token's partners."""
    return Deal.objects.visible_to(request_principal(request))


class VisibleDealField(serializers.PrimaryKeyRelatedField):
    """A deal id among those the caller sees; any other id is "not found"."""

    def get_queryset(self):
        request = self.context.get("request")
        return visible_deals(request) if request is not None else Deal._default_manager.none()


class ActivationSerializer(StrictModelSerializer):
    deal = VisibleDealField(help_text="A won deal you can see.")

    class Meta:
        model = CustomerActivation
        fields = ["id", "deal", "activated_on", "metric", "recorded_at"]
        read_only_fields = ["id", "recorded_at"]
        validators: list = []
