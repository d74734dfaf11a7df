"""What-if simulations in the background: queue one, follow it, read its report and its movers.

``POST /gates/simulate/`` answers at once for one tree; a what-if run is the
admin's simulation through the API: several gates (their drafts, or criteria
sent) measured in one pass by the nightly run's planner, in the background,
over the partners the caller sees, with tiers, benefits and incentive cost.
"""

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.serializers.gates import (
    WhatIfQueuedSerializer,
    WhatIfRunRequestSerializer,
    WhatIfRunSerializer,
)
from api.views.base import ReadOnlyViewSet
from api.views.versions import require_staff_vendor_wide
from gates import whatif
from gates.models import WhatIfRun


@extend_schema_view(
    list=extend_schema(
        summary="Your what-if runs, newest first",
        description="A run names the partners its requester covers: each user sees his own.",
    ),
    retrieve=extend_schema(
        summary="A what-if run: its progress, then its report",
        description="State (queued, running, done, failed) and chunks done out of total while it runs; "
        "once done, the report.",
    ),
)
class WhatIfRunViewSet(ReadOnlyViewSet):
    resource = "gates"
    serializer_class = WhatIfRunSerializer
    filterset_class = None
    ordering = ["-created_at", "-id"]
    write_permissions = {"create": ["gates.change_gate"]}

    def scoped_queryset(self):
        return WhatIfRun.objects.visible_to(self.principal)

    @extend_schema(
        summary="Simulate gates in the background",
        description="Each gate's draft (or, without one, its current criteria), or the criteria sent, over "
        "the partners you can see, decided as tonight's evaluation would decide them; nothing is saved but "
        "the run. Criteria errors name the gate and their place in the tree.",
        request=WhatIfRunRequestSerializer,
        responses={
            202: OpenApiResponse(WhatIfQueuedSerializer, description="Queued: the run is at `Location`.")
        },
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                description="The run: its progress, then its report.",
                response=[202],
            )
        ],
    )
    def create(self, request):
        require_staff_vendor_wide(self.principal)
        form = WhatIfRunRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        entries = []
        for item in form.validated_data["gates"]:
            gate = item["gate"]
            criteria = item.get("criteria")
            entry = whatif.whatif_entry(gate, criteria=criteria, currency=item.get("currency"))
            if criteria is not None:
                entry["draft"] = True
            entries.append(entry)
        try:
            run = whatif.whatif_queue(actor=request.user, entries=entries)
        except whatif.WhatIfError as exc:
            raise ValidationError({"gates": exc.errors}) from exc
        location = request.build_absolute_uri(reverse("api:whatif-run-detail", args=[run.pk]))
        return Response(
            WhatIfQueuedSerializer({"run": run.pk, "location": location}).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )

    @extend_schema(
        summary="Every mover of a finished run, as CSV",
        description="One row per partner and gate: the partner, the gate, the change, the tier before and "
        "after, and the criterion that decided. Empty (the header only) until the run is done.",
        responses={(200, "text/csv"): OpenApiTypes.STR},
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="movers", filterset_class=None, pagination_class=None)
    def movers(self, request, pk=None):
        run = whatif.whatif_mark_lost(self.get_object())
        response = HttpResponse(whatif.whatif_movers_csv(run), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="what-if-{run.pk}-movers.csv"'
        return response


def register(router) -> None:
    router.register("whatif-runs", WhatIfRunViewSet, basename="whatif-run")
