"""At-risk forecasts, read-only."""

from rest_framework import serializers

from core.serializers import StrictModelSerializer
from gates.models import GateForecast


class RenewalSerializer(serializers.Serializer):
    person = serializers.IntegerField(help_text="The person whose certification expires.")
    name = serializers.CharField()
    certification = serializers.CharField(help_text="The certification type's name.")
    expires_on = serializers.DateField()


class GateForecastSerializer(StrictModelSerializer):
    renewals = RenewalSerializer(many=True, read_only=True)

    class Meta:
        model = GateForecast
        fields = [
            "id",
            "partner",
            "gate",
            "at_risk",
            "fails_on",
            "criterion_path",
            "criterion",
            "shortfall",
            "fix",
            "renewals",
            "tier_lost_on",
            "override_until",
            "grace_until",
            "horizon_days",
            "as_of",
            "episode_started_on",
            "updated_at",
        ]
        read_only_fields = fields
