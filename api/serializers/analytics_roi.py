"""Program ROI, read-only: the figures of the manager's ROI page."""

from rest_framework import serializers


def _money(help_text: str = "") -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=2, coerce_to_string=True, help_text=help_text
    )


def _ratio(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=2, coerce_to_string=True, allow_null=True, help_text=help_text
    )


class RoiFiguresSerializer(serializers.Serializer):
    name = serializers.CharField(
        source="label", help_text="The period's first day, the tier, partner type or region."
    )
    currency = serializers.CharField(help_text="The program's base currency.")
    sourced = _money("Won sales whose deal the partner sourced.")
    influenced = _money("Won sales whose deal the vendor sourced and the partner worked.")
    unregistered = _money("Won sales without a deal registration.")
    revenue = _money()
    incentives = _money("Margins, commissions and rebates, net of reversals.")
    spifs = _money()
    rewards = _money("The money value of rewards redeemed.")
    mdf = _money("MDF paid.")
    cost = _money()
    sourced_return = _ratio("Sourced revenue per unit of cost; null without cost.")
    revenue_return = _ratio("All revenue per unit of cost; null without cost.")
    points_earned = serializers.DecimalField(max_digits=24, decimal_places=0, coerce_to_string=True)
    points_redeemed = serializers.DecimalField(
        max_digits=24, decimal_places=0, coerce_to_string=True, help_text="Negative: points spent."
    )


class ProgramRoiSerializer(serializers.Serializer):
    program = serializers.CharField(source="program.slug")
    program_name = serializers.CharField(source="program.name")
    total = RoiFiguresSerializer()
    periods = RoiFiguresSerializer(many=True)
    tiers = RoiFiguresSerializer(many=True, help_text="By the tier held on each fact's day.")
    partner_types = RoiFiguresSerializer(many=True)
    regions = RoiFiguresSerializer(many=True)
    unconverted = serializers.ListField(
        child=serializers.CharField(), help_text="Currencies left out for want of a rate on their day."
    )


class RoiSerializer(serializers.Serializer):
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    step = serializers.CharField()
    programs = ProgramRoiSerializer(many=True)
