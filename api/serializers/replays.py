"""Replays of a gate against history: the request that starts one, and the run with its report."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import StrictModelSerializer, StrictSerializer
from gates.models import ReplayRun
from gates.replay import MAX_DATES, replay_report


class ReplayRequestSerializer(StrictSerializer):
    gate = serializers.IntegerField(min_value=1, max_value=2_147_483_647, help_text="The gate to replay.")
    version = serializers.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        required=False,
        help_text="The version to replay; its draft (else its current criteria) when omitted.",
    )
    period = serializers.ChoiceField(
        choices=ReplayRun.Period.values, default=ReplayRun.Period.QUARTER, help_text="Month or quarter ends."
    )
    count = serializers.IntegerField(
        min_value=1, max_value=MAX_DATES, default=8, help_text="How many period ends before today."
    )
    known = serializers.ChoiceField(
        choices=["then", "now"],
        default="then",
        help_text="`then`: only the facts stored by each date count; `now`: facts recorded late count "
        "on the date they describe.",
    )


class ReplayTierSerializer(StrictSerializer):
    tier = serializers.CharField()
    replayed = serializers.IntegerField(help_text="Partners holding the tier under the replayed rule.")
    live = serializers.IntegerField(help_text="Partners holding it under the versions live on the date.")


class ReplayDateSerializer(StrictSerializer):
    day = serializers.DateField()
    partners = serializers.IntegerField(help_text="Partners in the program on the date, among yours.")
    moved = serializers.IntegerField(help_text="Partners whose tier differs between the two series.")
    tiers = ReplayTierSerializer(many=True)


class ReplayReportSerializer(StrictSerializer):
    tiers = serializers.ListField(child=serializers.CharField(), help_text="The ladder, lowest first.")
    dates = ReplayDateSerializer(many=True)


class ReplayRunSerializer(StrictModelSerializer):
    """A replay, its progress, and once done its report: the tier distribution on each date."""

    name = serializers.SerializerMethodField(help_text="The gate's name when the replay was asked for.")
    version = serializers.SerializerMethodField(help_text="The version replayed.")
    draft = serializers.SerializerMethodField(help_text="Whether the version replayed is a draft.")
    known = serializers.SerializerMethodField(help_text="`then` or `now`, as asked for.")

    class Meta:
        model = ReplayRun
        fields = [
            "id",
            "gate",
            "name",
            "version",
            "draft",
            "period",
            "dates",
            "known",
            "scope",
            "state",
            "chunks_total",
            "chunks_done",
            "partners_total",
            "created_at",
            "started_at",
            "finished_at",
            "notes",
            "error",
        ]
        read_only_fields = fields

    def get_name(self, run) -> str:
        return run.gate_entry.get("name", "")

    def get_version(self, run) -> int | None:
        return run.gate_entry.get("version")

    def get_draft(self, run) -> bool:
        return bool(run.gate_entry.get("draft"))

    def get_known(self, run) -> str:
        return "then" if run.known_then else "now"


class ReplayRunDetailSerializer(ReplayRunSerializer):
    """A replay with its report (read in one query), once it is done."""

    report = serializers.SerializerMethodField(help_text="Once done: per date, partners per tier; else null.")

    class Meta(ReplayRunSerializer.Meta):
        fields = [*ReplayRunSerializer.Meta.fields, "report"]
        read_only_fields = fields

    @extend_schema_field(ReplayReportSerializer(allow_null=True))
    def get_report(self, run) -> dict | None:
        if run.state != ReplayRun.State.DONE:
            return None
        return replay_report(run)
