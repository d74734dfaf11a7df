"""Programs, their tiers, the benefits they unlock, and the segments that target them.

Read and write. A write is validated as the admin validates it: the values
are set on the definition and its ``full_clean()`` runs (the model's
``clean()``, its fields and its constraints), so that the API refuses exactly
what the admin refuses, with the same messages, field by field.
"""

from typing import Any

from rest_framework import serializers

from api.serializers.base import CleanedModelSerializer
from api.serializers.gates import CriteriaField
from core.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, CURRENCY_CHOICES
from core.serializers import PositiveDecimalField
from partners.models import CustomerSegment, ProductLine
from programs.models import AllowancePeriod, Benefit, Program, Segment, Tier


class ProgramSerializer(CleanedModelSerializer):
    """A program: the main partner program or a sub-program (deal registration, MDF...)."""

    base_currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)

    class Meta:
        model = Program
        fields = [
            "id",
            "name",
            "slug",
            "kind",
            "parent",
            "description",
            "base_currency",
            "segment",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        # Uniqueness is checked by the model's own validation in validate().
        validators: list = []
        extra_kwargs = {
            "segment": {
                "help_text": "Only partners in this segment see the program; null means every partner."
            }
        }


class TierSerializer(CleanedModelSerializer):
    """An ordered level of a program: a higher rank is a higher tier."""

    program = serializers.PrimaryKeyRelatedField(queryset=Program.objects.all())

    class Meta:
        model = Tier
        fields = ["id", "program", "name", "rank", "grace_days", "description"]
        read_only_fields = ["id"]
        validators: list = []


class BenefitSerializer(CleanedModelSerializer):
    """What a tier or a gate unlocks: a percentage, an MDF allowance (an amount with its currency
    per period) or an access."""

    links = ("tiers",)

    program = serializers.PrimaryKeyRelatedField(queryset=Program.objects.all())
    product_line = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ProductLine.objects.all(),
        allow_null=True,
        required=False,
        help_text="Code of the product line a discount or rebate is limited to.",
    )
    customer_segment = serializers.SlugRelatedField(
        slug_field="code",
        queryset=CustomerSegment.objects.all(),
        allow_null=True,
        required=False,
        help_text="Limited to customers of this segment (deal registration: only their deals).",
    )
    tiers = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Tier.objects.all(),
        required=False,
        help_text="Ids of the tiers that grant the benefit, tiers of the benefit's program.",
    )
    # The bounds the model holds (a percentage from 0 to 100, an allowance above zero), stated
    # here so that the schema's patterns say them too.
    percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        allow_null=True,
        required=False,
        help_text="Percent for a discount, rebate or commission, 0 to 100: 15 means 15 %.",
    )
    amount = PositiveDecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        allow_null=True,
        required=False,
        help_text="An MDF allowance per period, in its currency, above zero.",
    )
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES,
        required=False,
        allow_blank=True,
        help_text="ISO 4217 code of an allowance; empty otherwise.",
    )
    period = serializers.ChoiceField(
        choices=AllowancePeriod.choices,
        required=False,
        allow_blank=True,
        help_text="quarter or year for an allowance; empty otherwise.",
    )

    class Meta:
        model = Benefit
        fields = [
            "id",
            "program",
            "name",
            "kind",
            "percent",
            "amount",
            "currency",
            "period",
            "product_line",
            "customer_segment",
            "description",
            "tiers",
        ]
        read_only_fields = ["id"]
        validators: list = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and not self.partial:
            # A replace states the whole benefit: a figure it leaves out is empty, not the one
            # stored, so that a discount replaced by an allowance keeps no percentage.
            for name in ("percent", "amount"):
                attrs.setdefault(name, None)
            for name in ("currency", "period"):
                attrs.setdefault(name, "")
        return super().validate(attrs)

    def validate_links(self, definition, links: dict[str, Any]) -> None:
        tiers = links.get("tiers")
        if tiers is None and definition.pk is not None and "program" in self.initial_data:
            tiers = list(definition.tiers.all())  # a benefit moved: its tiers must follow
        foreign = sorted(tier.name for tier in tiers or () if tier.program_id != definition.program_id)
        if foreign:
            raise serializers.ValidationError(
                {"tiers": [f"Tiers of another program cannot grant this benefit: {', '.join(foreign)}."]}
            )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Read from the prefetched tiers: no query per benefit; ids in order.
        data["tiers"] = sorted(data["tiers"])
        return data


class SegmentSerializer(CleanedModelSerializer):
    """A set of partners defined by a criteria tree; a program with a segment is seen by its
    members only."""

    criteria = CriteriaField(
        help_text="A criteria tree in the gate language, over partners' attributes and measures. "
        "Errors name their place in the tree."
    )
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES, required=False, help_text="Currency of money criteria."
    )

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "criteria", "currency", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []
