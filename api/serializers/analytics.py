"""Program analytics, read-only: the figures of the manager's analytics pages."""

from rest_framework import serializers


class CriterionSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The criterion's place among the gate's leaves.")
    path = serializers.CharField()
    description = serializers.CharField()
    target = serializers.CharField(source="target_display")
    partners_meeting = serializers.IntegerField(source="met")


class GapSerializer(serializers.Serializer):
    criterion = serializers.IntegerField(source="criterion.index")
    value = serializers.CharField(source="value_display")
    gap = serializers.DecimalField(max_digits=24, decimal_places=4, coerce_to_string=True)
    gap_display = serializers.CharField()


class NearMissSerializer(serializers.Serializer):
    partner = serializers.IntegerField(source="partner_id")
    partner_name = serializers.CharField()
    gaps = GapSerializer(many=True)


class GateFunnelSerializer(serializers.Serializer):
    gate = serializers.IntegerField(source="gate.pk")
    gate_name = serializers.CharField(source="gate.name")
    program = serializers.CharField(source="gate.program.slug")
    partners_by_criteria_met = serializers.ListField(
        source="met_counts",
        child=serializers.IntegerField(),
        help_text="Item k is the number of partners meeting exactly k criteria.",
    )
    passed = serializers.IntegerField()
    stale = serializers.IntegerField(help_text="Statuses measured under earlier criteria, not counted.")
    criteria = CriterionSerializer(many=True)
    near_misses = NearMissSerializer(many=True)


class FunnelSerializer(serializers.Serializer):
    near_percent = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=True)
    gates = GateFunnelSerializer(many=True)


class TierSeriesSerializer(serializers.Serializer):
    tier = serializers.CharField()
    partners = serializers.ListField(child=serializers.IntegerField(), help_text="One count per day.")


class MigrationCellSerializer(serializers.Serializer):
    from_tier = serializers.IntegerField(source="from_tier_id", allow_null=True)
    from_name = serializers.CharField()
    to_tier = serializers.IntegerField(source="to_tier_id", allow_null=True)
    to_name = serializers.CharField()
    partners = serializers.IntegerField()


class TimeToTierSerializer(serializers.Serializer):
    tier = serializers.CharField(source="tier_name")
    partners = serializers.IntegerField()
    median_days = serializers.DecimalField(
        max_digits=10, decimal_places=1, allow_null=True, coerce_to_string=True
    )
    average_days = serializers.DecimalField(
        max_digits=10, decimal_places=1, allow_null=True, coerce_to_string=True
    )


class TierMovementSerializer(serializers.Serializer):
    program = serializers.CharField(allow_null=True, help_text="The program's slug.")
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    days = serializers.ListField(child=serializers.DateField())
    distribution = TierSeriesSerializer(many=True)
    migration = MigrationCellSerializer(many=True, source="matrix")
    time_to_tier = TimeToTierSerializer(many=True)
