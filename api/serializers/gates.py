"""Gates (with their criteria), what partners achieve on them, and the history of it."""

from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.exceptions import django_errors
from core.money import CURRENCY_CHOICES
from core.serializers import StrictModelSerializer, StrictSerializer
from criteria.tree import CriteriaError
from gates.describe import describe_criteria
from gates.metrics import References, load_references
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    Gate,
    GateOutcome,
    GateState,
    GateStatus,
    GateStatusChange,
    GateVersion,
    PartnerTier,
    SegmentMembership,
    TierChange,
    WhatIfRun,
    prerequisite_cycle,
)
from gates.services import criteria_lines
from gates.validation import parse_criteria
from gates.whatif import MOVERS_SHOWN
from programs.models import Benefit, BenefitKind, Program, SegmentVersion, Tier


def _references(serializer: serializers.Field) -> References:
    """The codes criteria are written in, read once per response (kept in the root serializer's context)."""
    context = cast(dict[str, Any], serializer.root.context)
    if "_references" not in context:
        context["_references"] = load_references()
    return context["_references"]


def rule_in_words(serializer: serializers.Field, criteria: Any, currency: str) -> str:
    """The criteria as one sentence, as the admin's builder reads them back; empty if they no longer parse."""
    refs = _references(serializer)
    try:
        return describe_criteria(parse_criteria(criteria, default_currency=currency, references=refs), refs)
    except CriteriaError:  # a version recorded before a metric's rules changed
        return ""


@extend_schema_field({"$ref": "#/components/schemas/Criteria"})
class CriteriaField(serializers.JSONField):
    """A criteria tree, documented by the ``Criteria`` component that ``api.schema`` builds from the
    metric registry (``gates.criteria_schema``)."""


class GateStateField(serializers.ChoiceField):
    """Reads draft, active or retired; takes draft or active (retiring is its own action)."""

    def __init__(self, **kwargs):
        super().__init__(choices=GateState.choices, **kwargs)

    def to_internal_value(self, data):
        if data == GateState.RETIRED:
            raise serializers.ValidationError("Retire a gate with its retire action.")
        return super().to_internal_value(data)


class GateSerializer(StrictModelSerializer):
    """Read and write. Writes are validated like the admin's: the same criteria checks and rules."""

    program = serializers.PrimaryKeyRelatedField(queryset=Program.objects.all())
    state = GateStateField(
        default=GateState.DRAFT, help_text="draft or active; retire a gate with its retire action."
    )
    criteria = CriteriaField()
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES,
        required=False,
        allow_blank=True,
        help_text="Currency of money criteria; empty means the program's base currency.",
    )
    prerequisites = serializers.PrimaryKeyRelatedField(many=True, queryset=Gate.objects.all(), required=False)
    unlocks_tier = serializers.PrimaryKeyRelatedField(
        queryset=Tier.objects.all(), allow_null=True, required=False
    )
    unlocks_benefits = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Benefit.objects.all(), required=False
    )
    rule = serializers.SerializerMethodField(
        help_text='The criteria in words: "At least 5 people holding a valid certification and …".'
    )

    class Meta:
        model = Gate
        fields = [
            "id",
            "program",
            "name",
            "description",
            "state",
            "effective_from",
            "effective_to",
            "prerequisites",
            "criteria",
            "rule",
            "currency",
            "unlocks_tier",
            "unlocks_benefits",
            "unlocks_specialisation",
            "forecast_horizon_days",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "rule", "version", "created_at", "updated_at"]
        # Uniqueness is checked by the model's own constraints in validate().
        validators: list = []

    def get_rule(self, gate) -> str:
        return rule_in_words(self, gate.criteria, gate.money_currency)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        prerequisites = attrs.pop("prerequisites", None)
        benefits = attrs.pop("unlocks_benefits", None)
        gate = Gate() if self.instance is None else Gate.objects.get(pk=self.instance.pk)
        for name, value in attrs.items():
            setattr(gate, name, value)
        if gate.currency is None:
            gate.currency = ""
        try:
            # The model's clean() validates the criteria (gates.validation, as in
            # the admin), the tier's program and the dates; the constraints
            # catch duplicate names and a second active gate for a tier.
            gate.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from exc
        if prerequisites is not None:
            if gate.pk and any(p.pk == gate.pk for p in prerequisites):
                raise serializers.ValidationError(
                    {"prerequisites": ["A gate cannot be its own prerequisite."]}
                )
            cycle = prerequisite_cycle(gate, prerequisites)
            if cycle:
                raise serializers.ValidationError(
                    {"prerequisites": ["These prerequisites make a cycle: " + " → ".join(cycle) + "."]}
                )
        attrs["_gate"] = gate
        attrs["_prerequisites"] = prerequisites
        attrs["_benefits"] = benefits
        return attrs


class SimulationRequestSerializer(StrictSerializer):
    gate = serializers.PrimaryKeyRelatedField(
        queryset=Gate.objects.all(),
        required=False,
        help_text="Compare with this gate's current results (and use its criteria if none are sent).",
    )
    program = serializers.PrimaryKeyRelatedField(
        queryset=Program.objects.all(), required=False, help_text="For a draft: its program's currency."
    )
    criteria = CriteriaField(required=False)
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)
    prerequisites = serializers.PrimaryKeyRelatedField(many=True, queryset=Gate.objects.all(), required=False)

    def validate(self, attrs):
        gate = attrs.get("gate")
        if "criteria" not in attrs and gate is None:
            raise serializers.ValidationError({"criteria": ["Send criteria, or a gate to simulate."]})
        if "criteria" not in attrs:
            attrs["criteria"] = gate.criteria
        currency = attrs.get("currency")
        if not currency:
            if gate is not None:
                currency = gate.money_currency
            elif attrs.get("program") is not None:
                currency = attrs["program"].base_currency
            else:
                raise serializers.ValidationError({"currency": ["Send a currency, a program or a gate."]})
        attrs["currency"] = currency
        if "prerequisites" not in attrs:
            attrs["prerequisites"] = list(gate.prerequisites.all()) if gate is not None else []
        return attrs


class SimulationLeafSerializer(StrictSerializer):
    path = serializers.CharField()
    description = serializers.CharField()
    partners_passing = serializers.IntegerField()


class SimulationSerializer(StrictSerializer):
    evaluated = serializers.IntegerField(help_text="Partners measured: those you can see.")
    would_pass = serializers.IntegerField()
    passing_now = serializers.IntegerField(help_text="Partners passing the compared gate today.")
    newly_pass = serializers.IntegerField()
    newly_fail = serializers.IntegerField()
    criteria = SimulationLeafSerializer(many=True)
    newly_pass_examples = serializers.ListField(
        child=serializers.CharField(), help_text="Names, among the partners you can see."
    )
    newly_fail_examples = serializers.ListField(child=serializers.CharField())


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only; DRF's own also takes "yes", 1 and "on"."""

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


class EvaluationRequestSerializer(StrictSerializer):
    partner = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Re-evaluate this partner."
    )
    all = StrictBooleanField(required=False, default=False, help_text="Re-evaluate every partner.")

    def validate(self, attrs):
        if attrs.get("all") == ("partner" in attrs):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send either a partner or all: true, not both or neither."]}
            )
        return attrs


class EvaluationQueuedSerializer(StrictSerializer):
    queued = serializers.ChoiceField(choices=["partner", "all"])
    partner = serializers.IntegerField(allow_null=True)
    run = serializers.IntegerField(
        help_text=(
            "The id of the run that carries out this request (a request for every partner joins the "
            "run already queued, if one is). Its progress is at the `Location` of the response."
        )
    )
    location = serializers.URLField(help_text="The run: `GET` it for its state and progress.")


class EvaluationRunSerializer(StrictModelSerializer):
    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "kind",
            "state",
            "partner",
            "as_of",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "chunks_total",
            "chunks_done",
            "fanned_out",
            "partners_evaluated",
            "partners_total",
            "statuses_changed",
            "tiers_changed",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "chunks_total": {"help_text": "A run of every partner is split into chunks of partners."},
            "chunks_done": {"help_text": "Chunks written so far: the run's progress."},
            "state": {"help_text": "queued until a worker takes it up, then running, then done or failed."},
            "partners_evaluated": {"help_text": "Partners done so far."},
        }


@extend_schema_field(
    {
        "description": "A measured value or a target: a number, an amount as a string, a code or a list.",
        "nullable": True,
        "oneOf": [
            {"type": "number"},
            {"type": "string"},
            {"type": "boolean"},
            {"type": "array", "items": {"type": "string"}},
        ],
    }
)
class MeasureField(serializers.Field):
    def to_representation(self, value):
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, tuple | list):
            return [str(item) for item in value]
        return value


class LeafProgressSerializer(StrictSerializer):
    path = serializers.CharField(help_text="The criterion's place in the tree, e.g. criteria.all[0].")
    metric = serializers.CharField()
    description = serializers.CharField()
    value = MeasureField()
    target = MeasureField()
    value_display = serializers.CharField()
    target_display = serializers.CharField()
    passed = serializers.BooleanField()
    ratio = serializers.FloatField(help_text="0 to 1: how far towards the target.")
    window = serializers.CharField(help_text="The period counted, e.g. this quarter; empty for all time.")
    counts_from = serializers.DateField(allow_null=True)
    period_ends = serializers.DateField(allow_null=True)


class GateStatusSerializer(StrictModelSerializer):
    program = serializers.IntegerField(source="gate.program_id", read_only=True)
    gate_name = serializers.CharField(source="gate.name", read_only=True)
    up_to_date = serializers.SerializerMethodField(
        help_text="False when the gate changed since the partner was last evaluated on it."
    )
    met = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    criteria = serializers.SerializerMethodField()

    class Meta:
        model = GateStatus
        fields = [
            "id",
            "partner",
            "gate",
            "gate_name",
            "program",
            "status",
            "since",
            "updated_at",
            "up_to_date",
            "met",
            "total",
            "criteria",
        ]
        read_only_fields = fields

    def _progress(self, status):
        # One serializer instance renders the whole page: remember each status's progress.
        cache = self.__dict__.setdefault("_progress_cache", {})
        if status.pk not in cache:
            cache[status.pk] = self.context["gate_trees"].progress(status)
        return cache[status.pk]

    def get_up_to_date(self, status) -> bool:
        return status.gate_version == status.gate.version

    def get_met(self, status) -> int:
        return sum(leaf.passed for leaf in self._progress(status))

    def get_total(self, status) -> int:
        return len(self._progress(status))

    @extend_schema_field(LeafProgressSerializer(many=True))
    def get_criteria(self, status):
        return LeafProgressSerializer(self._progress(status), many=True).data


class GateStatusChangeSerializer(StrictModelSerializer):
    from_status = serializers.ChoiceField(choices=[("", "none"), *GateOutcome.choices])

    class Meta:
        model = GateStatusChange
        fields = [
            "id",
            "partner",
            "gate",
            "from_status",
            "to_status",
            "measures",
            "changed_at",
            "run",
            "gate_version",
        ]
        read_only_fields = fields


class TierChangeSerializer(StrictModelSerializer):
    class Meta:
        model = TierChange
        fields = [
            "id",
            "partner",
            "program",
            "from_tier",
            "to_tier",
            "reason",
            "effective_on",
            "changed_at",
            "note",
        ]
        read_only_fields = fields


class PartnerTierSerializer(StrictModelSerializer):
    class Meta:
        model = PartnerTier
        fields = [
            "id",
            "partner",
            "program",
            "tier",
            "since",
            "earned_tier",
            "qualified_tier",
            "grace_until",
            "override_tier",
            "override_reason",
            "override_expires_on",
            "updated_at",
        ]
        read_only_fields = fields


class TierOverrideSerializer(StrictSerializer):
    partner = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    program = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    tier = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text="The tier the partner holds while the override is in force.",
    )
    reason = serializers.CharField(
        max_length=2000, help_text="Why; partners and auditors see it, and the tier history keeps it."
    )
    expires_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The last day it is in force; none for no end.",
    )


class TierOverrideEndSerializer(StrictSerializer):
    note = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Kept in the tier history."
    )


class SegmentMembershipSerializer(StrictModelSerializer):
    segment_name = serializers.CharField(source="segment.name", read_only=True)

    class Meta:
        model = SegmentMembership
        fields = ["id", "partner", "segment", "segment_name", "since", "segment_version"]
        read_only_fields = fields
        extra_kwargs = {
            "since": {"help_text": "When the evaluation first placed the partner in the segment."},
            "segment_version": {
                "help_text": "The version of the segment the membership was last decided under."
            },
        }


class BenefitGrantSerializer(StrictModelSerializer):
    benefit_name = serializers.CharField(source="benefit.name", read_only=True)
    program = serializers.IntegerField(source="benefit.program_id", read_only=True)
    kind = serializers.ChoiceField(source="benefit.kind", choices=BenefitKind.choices, read_only=True)
    active = serializers.SerializerMethodField(help_text="Held now: not revoked.")

    class Meta:
        model = BenefitGrant
        fields = [
            "id",
            "partner",
            "benefit",
            "benefit_name",
            "program",
            "kind",
            "via_tier",
            "via_gate",
            "granted_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "via_tier": {"help_text": "The tier that grants it, if a tier does."},
            "via_gate": {"help_text": "The passed gate that unlocks it, if a gate does."},
        }

    def get_active(self, grant) -> bool:
        return grant.revoked_at is None


class GateVersionSerializer(StrictModelSerializer):
    """A version of a gate's criteria: the draft, the current one, those scheduled or superseded."""

    rule = serializers.SerializerMethodField(help_text="The criteria in words, as one sentence.")
    description = serializers.SerializerMethodField(help_text="Each criterion in words, with its place.")

    class Meta:
        model = GateVersion
        fields = [
            "version",
            "state",
            "criteria",
            "currency",
            "effective_from",
            "published_at",
            "published_by",
            "created_at",
            "rule",
            "description",
        ]
        read_only_fields = fields

    def get_rule(self, version) -> str:
        return rule_in_words(self, version.criteria, version.currency)

    def get_description(self, version) -> list[str]:
        try:
            return criteria_lines(version.criteria, version.currency, _references(self))
        except CriteriaError:  # a version recorded before a metric's rules changed
            return []


class GateDraftRequestSerializer(StrictSerializer):
    criteria = CriteriaField()
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES,
        required=False,
        allow_blank=True,
        help_text="Currency of money criteria; empty means the program's base currency.",
    )


class GatePublishRequestSerializer(StrictSerializer):
    effective_from = serializers.DateField(
        required=False, help_text="The day the version takes effect: today (the default) or later."
    )


class CriterionRowSerializer(StrictSerializer):
    before = serializers.CharField(allow_null=True, help_text="The criterion in words; null where added.")
    after = serializers.CharField(allow_null=True, help_text="The criterion in words; null where removed.")
    changed = serializers.BooleanField()


class GateDiffSerializer(StrictSerializer):
    before = GateVersionSerializer()
    after = GateVersionSerializer()
    criteria = CriterionRowSerializer(
        many=True,
        help_text="The criteria of both versions side by side, those that read the same on one row.",
    )
    passing_before = serializers.IntegerField(help_text="Partners you can see passing the first version.")
    passing_after = serializers.IntegerField()
    newly_pass = serializers.ListField(child=serializers.CharField(), help_text="Pass only the second.")
    newly_fail = serializers.ListField(child=serializers.CharField(), help_text="Pass only the first.")


class SegmentVersionSerializer(GateVersionSerializer):
    """A version of a segment's criteria: the draft, the current one, those scheduled or superseded."""

    class Meta:
        model = SegmentVersion
        fields = GateVersionSerializer.Meta.fields
        read_only_fields = fields


class SegmentDraftRequestSerializer(StrictSerializer):
    criteria = CriteriaField()
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES,
        required=False,
        help_text="Currency of money criteria; the segment's by default.",
    )


class SegmentPublishRequestSerializer(GatePublishRequestSerializer):
    """When a segment's draft takes effect."""


class SegmentDiffSerializer(StrictSerializer):
    before = SegmentVersionSerializer()
    after = SegmentVersionSerializer()
    criteria = CriterionRowSerializer(many=True, help_text="The criteria of both versions side by side.")
    passing_before = serializers.IntegerField(
        help_text="Partners you can see in the segment under the first version."
    )
    passing_after = serializers.IntegerField()
    newly_pass = serializers.ListField(
        child=serializers.CharField(), help_text="In it only under the second."
    )
    newly_fail = serializers.ListField(child=serializers.CharField(), help_text="In it only under the first.")


class WhatIfGateRequestSerializer(StrictSerializer):
    gate = serializers.PrimaryKeyRelatedField(queryset=Gate.objects.all(), help_text="The gate to simulate.")
    criteria = CriteriaField(
        required=False,
        help_text="Criteria to simulate instead of the gate's draft (or, without one, its current).",
    )
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES,
        required=False,
        help_text="Currency of the criteria sent; the gate's by default.",
    )


class WhatIfRunRequestSerializer(StrictSerializer):
    gates = WhatIfGateRequestSerializer(
        many=True,
        allow_empty=False,
        help_text="The gates simulated together, in one measuring pass (50 at most).",
    )

    def validate_gates(self, value):
        if len(value) > 50:
            raise serializers.ValidationError("Simulate 50 gates at most at once.")
        ids = [item["gate"].pk for item in value]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Name each gate once.")
        return value


class WhatIfRunSerializer(StrictModelSerializer):
    """A simulation in the background: its progress while it runs, then its report."""

    simulated = serializers.JSONField(
        source="gates",
        help_text="What was simulated, per gate: its id, name, version, criteria and currency.",
    )
    percent_done = serializers.IntegerField(help_text="Chunks done out of total, as a percentage.")
    result = serializers.JSONField(
        allow_null=True,
        help_text="The report once done: per gate the partners that would pass, newly pass and newly fail, "
        "criterion by criterion; the tier movement per program; the benefits unlocked and lost; the movers "
        "(the first 200 here, all of them in the CSV); the incentive cost of the tier moves: per rule whose "
        "earning depends on the tier (margins, and commissions, rebates, SPIFs and points from a minimum tier) "
        "its kind, what it counted, and before, after and difference in its currency (points rules in PTS), "
        "then money totals per currency and the points in total.",
    )

    class Meta:
        model = WhatIfRun
        fields = [
            "id",
            "state",
            "as_of",
            "scope",
            "simulated",
            "partners_total",
            "partners_done",
            "chunks_total",
            "chunks_done",
            "percent_done",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "result",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        body = super().to_representation(instance)
        if isinstance(body.get("result"), dict) and "movers" in body["result"]:
            # The first movers only: all of them are in the run's CSV.
            body["result"] = {**body["result"], "movers": body["result"]["movers"][:MOVERS_SHOWN]}
        return body


class WhatIfQueuedSerializer(StrictSerializer):
    run = serializers.IntegerField()
    location = serializers.URLField(help_text="Where to follow the run and read its report.")
