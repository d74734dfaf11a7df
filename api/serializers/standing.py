"""A partner's standing in one read: per program open to it, its tier, benefits and gates."""

from rest_framework import serializers

from api.serializers.forecasts import RenewalSerializer
from api.serializers.gates import BenefitGrantSerializer, LeafProgressSerializer, PartnerTierSerializer
from api.serializers.programs import ProgramSerializer
from core.serializers import StrictSerializer
from gates.models import GateOutcome
from partners.models import LifecycleStatus


class StandingTierSerializer(PartnerTierSerializer):
    tier_name = serializers.CharField(source="tier.name", read_only=True, allow_null=True)
    rank = serializers.IntegerField(source="tier.rank", read_only=True, allow_null=True)
    in_grace = serializers.SerializerMethodField(
        help_text="The partner no longer qualifies and keeps its tier until grace_until."
    )

    class Meta(PartnerTierSerializer.Meta):
        fields = [
            name for name in PartnerTierSerializer.Meta.fields if name not in ("id", "partner", "program")
        ] + ["tier_name", "rank", "in_grace"]
        read_only_fields = fields

    def get_in_grace(self, partner_tier) -> bool:
        return partner_tier.grace_until is not None


class StandingForecastSerializer(StrictSerializer):
    fails_on = serializers.DateField(help_text="The first day the gate would fail if nothing new arrived.")
    criterion_path = serializers.CharField()
    criterion = serializers.CharField()
    shortfall = serializers.CharField()
    fix = serializers.CharField(help_text="The cheapest way to keep passing.")
    renewals = RenewalSerializer(many=True)
    tier_lost_on = serializers.DateField(
        allow_null=True,
        help_text="The first day the partner would no longer hold the gate's tier, after grace and any override.",
    )
    override_until = serializers.DateField(
        allow_null=True, help_text="The last day of the override holding the tier, when one does."
    )


class StandingGateSerializer(StrictSerializer):
    gate = serializers.IntegerField(source="progress.gate.id")
    name = serializers.CharField(source="progress.gate.name")
    unlocks_tier = serializers.IntegerField(source="progress.gate.unlocks_tier_id", allow_null=True)
    unlocks_specialisation = serializers.CharField(source="progress.gate.unlocks_specialisation")
    status = serializers.ChoiceField(source="progress.status", choices=GateOutcome.choices)
    since = serializers.DateTimeField(source="progress.since", allow_null=True)
    met = serializers.IntegerField(source="progress.met", help_text="Criteria met.")
    total = serializers.IntegerField(help_text="Criteria in all.")
    criteria = LeafProgressSerializer(source="progress.leaves", many=True)
    at_risk = serializers.BooleanField(help_text="Passed today, and would fail within the gate's horizon.")
    forecast = StandingForecastSerializer(
        allow_null=True, help_text="When and why it would fail; null if not at risk."
    )


class StandingProgramSerializer(StrictSerializer):
    program = ProgramSerializer()
    tier = StandingTierSerializer(allow_null=True, help_text="Null when the partner holds no tier here.")
    benefits = BenefitGrantSerializer(many=True, help_text="The benefits held now in this program.")
    gates = StandingGateSerializer(many=True)


class PartnerStandingSerializer(StrictSerializer):
    partner = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=LifecycleStatus.choices, help_text="The partner's lifecycle status."
    )
    as_of = serializers.DateField()
    programs = StandingProgramSerializer(many=True, help_text="Every program open to the partner, by name.")
