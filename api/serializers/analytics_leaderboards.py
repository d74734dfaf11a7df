"""Leaderboards, read-only: the figures of the manager's leaderboards page."""

from rest_framework import serializers


class EntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    id = serializers.IntegerField(help_text="The partner's or distributor's id.")
    name = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=24, decimal_places=2, coerce_to_string=True)
    previous_revenue = serializers.DecimalField(max_digits=24, decimal_places=2, coerce_to_string=True)
    growth_percent = serializers.DecimalField(
        max_digits=24,
        decimal_places=1,
        coerce_to_string=True,
        allow_null=True,
        help_text="Null when nothing was sold in the previous period.",
    )
    certifications = serializers.IntegerField(help_text="Certifications gained in the period.")
    points = serializers.DecimalField(
        max_digits=24, decimal_places=0, coerce_to_string=True, help_text="Points earned in the period."
    )


class BoardsSerializer(serializers.Serializer):
    revenue = EntrySerializer(many=True)
    growth = EntrySerializer(many=True)
    certifications = EntrySerializer(many=True)
    points = EntrySerializer(many=True)


class LeaderboardsSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The program's base currency, else the reference currency.")
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    previous_start = serializers.DateField(allow_null=True)
    previous_end = serializers.DateField(allow_null=True)
    partners = BoardsSerializer()
    distributors = BoardsSerializer()
