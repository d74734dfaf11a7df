"""The history of definitions and facts, read-only, for staff allowed to read the whole log.

``GET /api/v1/history/?model=programs.program&object=3&actor=7&door=admin``:
every recorded change, newest first, with who made it, through which door and
the values before and after. The log spans every partner, so it needs the
same permission as the admin's log (``pghistory.view_context``, which
superusers hold), and answers only signed-in users: an integration token is
narrowed to some partners, which the log is not.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission

from api.pagination import PagePagination
from api.scoping import request_token
from api.views.base import ScopedViewMixin
from core.filters import BoundedDateTimeField
from history.admin import may_read_log
from history.context import Door
from history.selectors import HistoryFilter, changes, history, tracked_models


class HistoryAccess(BasePermission):
    message = "Reading the history needs staff status and the permission to view it."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated or request_token(request) is not None:
            return False
        return may_read_log(user)


@extend_schema_field(OpenApiTypes.DATETIME)
class MomentField(serializers.Field):
    """An RFC 3339 moment with its offset, read as every filter's ``updated_since`` is."""

    def to_internal_value(self, data):
        try:
            return BoundedDateTimeField().clean(data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from exc

    def to_representation(self, value):
        return value.isoformat()


class HistoryQuerySerializer(serializers.Serializer):
    model = serializers.ChoiceField(
        choices=[], required=False, help_text="A tracked model's label, e.g. `programs.program`."
    )
    object = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="An object id; needs `model`."
    )
    actor = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="The id of the user who made the change."
    )
    door = serializers.ChoiceField(choices=list(Door.ALL), required=False)
    updated_since = MomentField(
        required=False,
        help_text="Changes recorded at or after this moment: for incremental sync, send the `at` of "
        "the newest change you hold.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = sorted(tracked_models())  # type: ignore[attr-defined]

    def validate(self, attrs):
        if "object" in attrs and "model" not in attrs:
            raise ValidationError({"object": ["Give the model of the object too."]})
        return attrs


class ChangeSerializer(serializers.Serializer):
    event = serializers.CharField(source="event_id", help_text="The change's own id.")
    model = serializers.CharField(help_text="The tracked model's label.")
    object = serializers.CharField(source="object_id")
    action = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    at = serializers.DateTimeField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    actor_username = serializers.CharField(source="actor", allow_blank=True)
    door = serializers.CharField(allow_blank=True, help_text=f"One of {', '.join(Door.ALL)}, or empty.")
    context = serializers.DictField(help_text="Where: the path, command, task or token.")  # type: ignore[assignment]
    before = serializers.DictField(allow_null=True, help_text="Stored values before; null on creation.")
    after = serializers.DictField(allow_null=True, help_text="Stored values after; null on deletion.")
    changed = serializers.ListField(child=serializers.CharField(), source="changed_fields")


class HistoryViewSet(ScopedViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    resource = None  # no token reads the history (HistoryAccess): no scope to name
    permission_classes = (HistoryAccess,)  # type: ignore[assignment]  # not ApiAccess: staff who read the log
    pagination_class = PagePagination
    serializer_class = ChangeSerializer
    filter_backends: list = []
    extra_query_parameters = ("model", "object", "actor", "door", "updated_since")

    def scoped_queryset(self):
        # Not a partner-scoped model: the permission above admits only readers of the whole log.
        query = HistoryQuerySerializer(data=self.request.query_params)
        for name in self.extra_query_parameters:
            if len(self.request.query_params.getlist(name)) > 1:
                raise ValidationError({name: ["Give one value."]})
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return history(
            HistoryFilter(
                model=data.get("model"),
                object_id=data.get("object"),
                actor_id=data.get("actor"),
                door=data.get("door"),
                since=data.get("updated_since"),
            )
        )

    @extend_schema(parameters=[HistoryQuerySerializer], summary="Recorded changes, newest first")
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # always paginated
        return self.get_paginated_response(ChangeSerializer(changes(page), many=True).data)


def register(router) -> None:
    router.register("history", HistoryViewSet, basename="history")
