"""Programs, their tiers and the benefits they unlock."""

from rest_framework import serializers

from core.serializers import StrictModelSerializer
from programs.models import Benefit, Program, Tier


class ProgramSerializer(StrictModelSerializer):
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
        read_only_fields = fields


class TierSerializer(StrictModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "program", "name", "rank", "grace_days", "description"]
        read_only_fields = fields


class BenefitSerializer(StrictModelSerializer):
    product_line = serializers.CharField(source="product_line.code", read_only=True, allow_null=True)
    customer_segment = serializers.CharField(
        source="customer_segment.code",
        read_only=True,
        allow_null=True,
        help_text="Limited to customers of this segment (deal registration: only their deals).",
    )
    tiers = serializers.SerializerMethodField(help_text="Ids of the tiers that grant the benefit.")
    currency = serializers.CharField(
        read_only=True, help_text="ISO 4217 code of an allowance; empty otherwise."
    )
    period = serializers.CharField(
        read_only=True, help_text="quarter or year for an allowance; empty otherwise."
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
        read_only_fields = fields

    def get_tiers(self, benefit) -> list[int]:
        # Read from the prefetched tiers: no query per benefit.
        return sorted(tier.id for tier in benefit.tiers.all())
