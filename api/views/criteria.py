"""The criteria language as a JSON Schema, for integrators and editors that build trees."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from api.views.base import ScopedViewMixin
from gates.criteria_schema import criteria_json_schema
from gates.models import Gate


class CriteriaSchemaView(ScopedViewMixin, GenericAPIView):
    resource = None  # the language's description, the same for everybody
    pagination_class = None
    filter_backends: list = []

    def scoped_queryset(self):
        return Gate.objects.none()

    @extend_schema(
        summary="The criteria language as a JSON Schema",
        description=(
            "A JSON Schema (draft 2020-12) of a criteria tree, as gates and segments take it: the "
            "branches all, any and not, and one leaf per metric with its parameters, comparisons, "
            "target type and windows. It is built from the metric registry, so it lists every metric "
            "the API accepts. The same definitions are the `Criteria` components of this document. "
            "What it cannot state (that a code exists, the tree's size) the validation reports with "
            "the place of each problem."
        ),
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A JSON Schema document.")},
    )
    def get(self, request):
        return Response(criteria_json_schema(schema_id=request.build_absolute_uri()))
