"""Completions from an external LMS: xAPI statements, sent with an integration token."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from api.parsers import DecimalJSONParser
from api.schema import ErrorSerializer
from api.scoping import request_token
from api.views.base import ScopedViewMixin
from enablement import xapi
from enablement.models import Completion


class _Mbox(serializers.Serializer):
    mbox = serializers.CharField(help_text="mailto: and the person's email.")


class _Id(serializers.Serializer):
    id = serializers.CharField(help_text="An IRI.")


class _Score(serializers.Serializer):
    scaled = serializers.DecimalField(max_digits=5, decimal_places=4, min_value=0, max_value=1)


class _Result(serializers.Serializer):
    score = _Score(required=False)


class StatementSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The statement's id: a statement sent again changes nothing.")
    actor = _Mbox()
    verb = _Id(help_text="http://adlnet.gov/expapi/verbs/completed or …/passed.")
    object = _Id(help_text="The activity: a course's xAPI activity id.")
    result = _Result(required=False)
    timestamp = serializers.DateTimeField(required=False, help_text="When it was completed; now if absent.")

    class Meta:
        ref_name = "XapiStatement"


class StatementResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The statement's position in the batch, from 0.")
    statement_id = serializers.CharField(allow_null=True)
    result = serializers.ChoiceField(choices=["created", "unchanged", "rejected"])
    id = serializers.IntegerField(
        required=False, help_text="The completion's id (not on rejected statements)."
    )
    certifications = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Certifications the completion issued."
    )
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Why the statement was refused, per part.",
    )

    class Meta:
        ref_name = "XapiStatementResult"


class StatementReportSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = StatementResultSerializer(many=True)

    class Meta:
        ref_name = "XapiStatementReport"


class XapiStatementViewSet(ScopedViewMixin, viewsets.GenericViewSet):
    """``POST /api/v1/xapi/statements/``: what an LMS sends with a read-write integration token."""

    resource = "facts"

    pagination_class = None
    filter_backends: list = []
    parser_classes = [DecimalJSONParser]
    serializer_class = StatementSerializer
    # Completions issue certifications: the token's issuer needs the right to add them.
    write_permissions = {"create": ["partners.add_certification"]}

    def scoped_queryset(self):
        return Completion.objects.visible_to(self.principal)

    @extend_schema(
        summary="Send xAPI statements from an LMS",
        description=(
            "Up to 1,000 xAPI statements whose verb is completed or passed. The actor's mbox names a "
            "person by email at a partner the token may send facts for; the object's id names a course "
            "by its xAPI activity id. Each statement is reported created, unchanged (its id was sent "
            "before) or rejected with its reasons; rejected statements do not stop the others. Sending "
            "the same batch again changes nothing. Completing a learning path issues its certification, "
            "and the partners' gates are re-evaluated shortly after. Integration tokens only."
        ),
        # The bounds go to the list serializer many=True makes (DRF 3.15 on; its stubs lag).
        request=StatementSerializer(many=True, min_length=1, max_length=xapi.MAX_STATEMENTS),  # type: ignore[call-arg]
        responses={
            200: StatementReportSerializer,
            400: OpenApiResponse(ErrorSerializer, description="The batch as a whole cannot be taken."),
            403: OpenApiResponse(ErrorSerializer, description="Not a read-write integration token."),
        },
        filters=False,
    )
    def create(self, request):
        if request_token(request) is None:
            raise PermissionDenied("Send statements with a read-write integration token.")
        try:
            report = xapi.statements_ingest(principal=self.principal, statements=request.data)
        except xapi.StatementBatchError as exc:
            raise ValidationError(exc.errors) from exc
        return Response(report, status=status.HTTP_200_OK)


def register(router) -> None:
    router.register("xapi/statements", XapiStatementViewSet, basename="xapi-statement")
