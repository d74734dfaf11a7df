"""Partner lifetime value and a partner's own figures, read-only: the figures of their portal pages."""

from rest_framework import serializers


def _money(help_text: str = "", *, allow_null: bool = False) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=2, coerce_to_string=True, allow_null=allow_null, help_text=help_text
    )


class CurvePointSerializer(serializers.Serializer):
    month = serializers.IntegerField(help_text="Whole months since joining.")
    partners = serializers.IntegerField(help_text="The cohort's partners at least this old at `end`.")
    value = _money("Their average cumulative lifetime value at this month.", allow_null=True)


class CohortSerializer(serializers.Serializer):
    quarter = serializers.CharField(source="label", help_text="The join quarter, e.g. 2025-Q1.")
    starts = serializers.DateField(source="quarter", help_text="The quarter's first day.")
    partners = serializers.IntegerField()
    curve = CurvePointSerializer(many=True)


class PartnerValueSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    partner = serializers.IntegerField(source="id")
    name = serializers.CharField()
    joined_on = serializers.DateField()
    age_months = serializers.IntegerField(help_text="Whole months from joining to `end`.")
    revenue = _money("Won sales up to `end`.")
    cost = _money("What the program paid: ledger entries (net of reversals) and MDF paid.")
    value = _money("Revenue less cost.")


class LifetimeSerializer(serializers.Serializer):
    definition = serializers.CharField()
    currency = serializers.CharField(help_text="The program's base currency, else the reference currency.")
    start = serializers.DateField(allow_null=True, help_text="Partners joined from this day...")
    end = serializers.DateField(allow_null=True, help_text="...to this day; facts count up to it.")
    partners = serializers.IntegerField()
    cohorts = CohortSerializer(many=True)
    top = PartnerValueSerializer(many=True)
    bottom = PartnerValueSerializer(many=True)
    unconverted = serializers.ListField(
        child=serializers.CharField(), help_text="Currencies left out for want of a rate on their day."
    )


class PeriodFiguresSerializer(serializers.Serializer):
    period = serializers.CharField(source="label", help_text="The period's first day, or `total`.")
    revenue = _money("Won sales, in `currency`.")
    points = serializers.DecimalField(max_digits=24, decimal_places=0, coerce_to_string=True)
    certifications = serializers.IntegerField()
    deals_registered = serializers.IntegerField()
    deals_won = serializers.IntegerField()


class PeerMediansSerializer(serializers.Serializer):
    revenue = _money()
    points = serializers.DecimalField(max_digits=24, decimal_places=1, coerce_to_string=True)
    certifications = serializers.DecimalField(max_digits=24, decimal_places=1, coerce_to_string=True)
    deals_registered = serializers.DecimalField(max_digits=24, decimal_places=1, coerce_to_string=True)
    deals_won = serializers.DecimalField(max_digits=24, decimal_places=1, coerce_to_string=True)


class PeerComparisonSerializer(serializers.Serializer):
    program = serializers.CharField(help_text="The program's name.")
    tier = serializers.CharField(help_text="The tier the partner holds in it.")
    peers = serializers.IntegerField(help_text="Other partners of the same type holding the tier.")
    shown = serializers.BooleanField(help_text="False with too few peers to compare.")
    medians = PeerMediansSerializer(allow_null=True, help_text="Null with fewer than `min_peers` peers.")


class PartnerFiguresSerializer(serializers.Serializer):
    partner = serializers.IntegerField(source="partner.pk")
    currency = serializers.CharField(help_text="The reference currency.")
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    step = serializers.CharField()
    periods = PeriodFiguresSerializer(many=True)
    total = PeriodFiguresSerializer()
    min_peers = serializers.IntegerField()
    peers = PeerComparisonSerializer(many=True)
    unconverted = serializers.ListField(
        child=serializers.CharField(), help_text="Currencies left out for want of a rate on their day."
    )
