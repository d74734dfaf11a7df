"""Replays of a gate against history: started with a POST, read (progress, then report) with a GET."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.pagination import PagePagination
from api.serializers.replays import ReplayRequestSerializer, ReplayRunDetailSerializer, ReplayRunSerializer
from api.views.base import ScopedViewMixin
from api.views.versions import require_staff_vendor_wide
from gates import replay
from gates.models import Gate, ReplayRun

REQUEST_EXAMPLE = OpenApiExample(
    "Eight quarter ends, as known then",
    value={"gate": 12, "period": "quarter", "count": 8, "known": "then"},
    request_only=True,
)
RUN_EXAMPLE = OpenApiExample(
    "A finished replay",
    value={
        "id": 3,
        "gate": 12,
        "name": "Gold",
        "version": 4,
        "draft": True,
        "period": "quarter",
        "dates": ["2026-03-31", "2026-06-30"],
        "known": "then",
        "scope": "every partner",
        "state": "done",
        "chunks_total": 1,
        "chunks_done": 1,
        "partners_total": 1840,
        "created_at": "2026-07-15T09:12:00Z",
        "started_at": "2026-07-15T09:12:01Z",
        "finished_at": "2026-07-15T09:12:04Z",
        "notes": [
            "Tiers are those qualified for on each date; grace periods and overrides … are not replayed."
        ],
        "error": "",
        "report": {
            "tiers": ["No tier", "Silver", "Gold"],
            "dates": [
                {
                    "day": "2026-03-31",
                    "partners": 1790,
                    "moved": 41,
                    "tiers": [
                        {"tier": "No tier", "replayed": 1210, "live": 1220},
                        {"tier": "Silver", "replayed": 420, "live": 451},
                        {"tier": "Gold", "replayed": 160, "live": 119},
                    ],
                },
                {
                    "day": "2026-06-30",
                    "partners": 1840,
                    "moved": 52,
                    "tiers": [
                        {"tier": "No tier", "replayed": 1230, "live": 1240},
                        {"tier": "Silver", "replayed": 430, "live": 472},
                        {"tier": "Gold", "replayed": 180, "live": 128},
                    ],
                },
            ],
        },
    },
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="Your replays of gates against history, newest first",
        description="A replay counts the partners its requester covers: you see yours (superusers, all).",
    ),
    retrieve=extend_schema(
        summary="A replay: its progress, then its report",
        description="`report` is null until `state` is `done`: then, per date, the partners per tier "
        "under the replayed rule and under the versions live on that date.",
        responses=ReplayRunDetailSerializer,
        examples=[RUN_EXAMPLE],
    ),
)
class ReplayViewSet(
    ScopedViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Replay a gate's draft or a past version on past month or quarter ends; nothing is written to results."""

    resource = "gates"
    serializer_class = ReplayRunSerializer
    pagination_class = PagePagination
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]
    write_permissions = {"create": ["gates.change_gate"]}

    def scoped_queryset(self):
        return ReplayRun.objects.visible_to(self.principal)

    def get_serializer_class(self):
        return ReplayRunDetailSerializer if self.action == "retrieve" else ReplayRunSerializer

    @extend_schema(
        summary="Replay a gate against history",
        description="Decides the gate's draft (or the `version` named) on each of the last `count` month or "
        "quarter ends, over the partners you cover, beside the versions live on each date. Runs in the "
        "background: `GET` the `Location` for its progress, then its report.",
        request=ReplayRequestSerializer,
        responses={
            202: OpenApiResponse(ReplayRunSerializer, description="Queued: the run is at `Location`."),
            400: OpenApiResponse(
                description="Field errors: an unknown gate or version, a count out of range."
            ),
        },
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                description="The replay: its progress, then its report.",
                response=[202],
            )
        ],
        examples=[REQUEST_EXAMPLE],
    )
    def create(self, request):
        require_staff_vendor_wide(self.principal)
        form = ReplayRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        gate = (
            Gate.objects.visible_to(self.principal).select_related("program").filter(pk=data["gate"]).first()
        )
        if gate is None:
            raise ValidationError({"gate": ["No gate with this id among those you can see."]})
        try:
            run = replay.replay_queue(
                actor=request.user,
                gate=gate,
                version=data.get("version"),
                period=data["period"],
                count=data["count"],
                known_then=data["known"] == "then",
            )
        except replay.ReplayError as exc:
            raise ValidationError(exc.errors) from exc
        location = request.build_absolute_uri(reverse("api:gate-replay-detail", args=[run.pk]))
        return Response(
            ReplayRunSerializer(run).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location}
        )


def register(router) -> None:
    router.register("gate-replays", ReplayViewSet, basename="gate-replay")
