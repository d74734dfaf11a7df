"""Who the caller is: lets an integrator check its token before sending data."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from api.models import TokenScope
from api.resources import SCOPES
from api.scoping import request_token
from api.views.base import ScopedViewMixin
from partners.models import Membership


class TokenInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    identifier = serializers.CharField()
    scope = serializers.ChoiceField(choices=TokenScope.choices)
    resource_scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPES),
        help_text="The resources the token may call; empty when its scope alone decides.",
    )
    all_partners = serializers.BooleanField()
    partners = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids, when not all partners."
    )
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a field
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    partner = serializers.IntegerField(allow_null=True, help_text="The caller's partner organisation.")
    distributor = serializers.IntegerField(allow_null=True, help_text="The caller's distributor.")
    token = TokenInfoSerializer(allow_null=True)


class MeView(ScopedViewMixin, GenericAPIView):
    resource = None  # every token may ask who it is
    serializer_class = MeSerializer
    pagination_class = None
    filter_backends: list = []

    def scoped_queryset(self):
        return Membership.objects.none()

    @extend_schema(summary="The caller: user, organisation and token")
    def get(self, request):
        membership = Membership.for_user(request.user)
        token = request_token(request)
        body = {
            "username": request.user.get_username(),
            "is_staff": request.user.is_staff,
            "partner": membership.partner_id if membership else None,
            "distributor": membership.distributor_id if membership else None,
            "token": None,
        }
        if token is not None:
            body["token"] = {
                "name": token.name,
                "identifier": token.identifier,
                "scope": token.scope,
                "resource_scopes": token.resource_scopes,
                "all_partners": token.all_partners,
                # door: the partners the caller's own token names, which it acts for
                "partners": [] if token.all_partners else sorted(token.partners.values_list("pk", flat=True)),
                "source": token.source,
                "expires_at": token.expires_at,
            }
        return Response(MeSerializer(body).data)
