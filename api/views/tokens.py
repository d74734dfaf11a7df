"""Integration tokens issued, listed and revoked by the people they act for.

The rules are the service's (``api.services.token_issue``), the same as in the admin. A token
never manages tokens: any call here with one answers 403.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.response import Response
from rest_framework.reverse import reverse

from api.filtersets import TokenFilterSet
from api.models import IntegrationToken
from api.pagination import PagePagination
from api.scoping import request_token
from api.serializers.tokens import IssuedTokenSerializer, TokenIssueSerializer, TokenSerializer
from api.services import NOT_AN_ISSUER, TOKENS_BY_PEOPLE, may_issue_tokens, token_issue, token_revoke
from api.views.base import ScopedViewMixin


class AlreadyRevoked(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This token was already revoked; it stays revoked and nothing changed."
    default_code = "already_revoked"


@extend_schema_view(
    list=extend_schema(
        summary="Your integration tokens",
        description="The tokens you issued; superusers and staff holding api.change_integrationtoken see "
        "everyone's. Secrets are never shown again.",
    ),
    retrieve=extend_schema(summary="An integration token (without its secret)"),
)
# No DELETE: a token is revoked, never deleted, so that the audit trail keeps pointing at it.
class TokenViewSet(
    ScopedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    resource = None  # no token may call these endpoints at all: tokens are managed by people
    serializer_class = TokenSerializer
    filterset_class = TokenFilterSet
    pagination_class = PagePagination
    ordering_fields = ["id", "created_at"]
    ordering = ["-created_at", "-id"]
    # Both checked by the service, the one for the admin too: issuing needs staff status and
    # api.add_integrationtoken (checked again before the body is read), revoking is for the
    # token's issuer or who manages every token.
    write_permissions = {"create": None, "revoke": None}

    def check_permissions(self, request) -> None:
        if request_token(request) is not None:
            raise PermissionDenied(TOKENS_BY_PEOPLE)
        super().check_permissions(request)

    def scoped_queryset(self):
        return (
            IntegrationToken.objects.visible_to(self.principal)
            .select_related("issued_by")
            .prefetch_related("partners")
        )

    @extend_schema(
        summary="Issue an integration token",
        description="The answer carries the whole secret, this once: only its digest is stored. The token "
        "acts for you and never sees more than you: it covers partners you see, and is read-write only "
        "if you may change data. Needs staff status and api.add_integrationtoken. Sent again with the "
        "same Idempotency-Key, the answer is replayed with `secret` null: the secret is never stored.",
        request=TokenIssueSerializer,
        responses={
            201: OpenApiResponse(IssuedTokenSerializer, description="Issued: the token is at `Location`.")
        },
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                description="The token issued (without its secret).",
                response=[201],
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        if not may_issue_tokens(request.user):
            raise PermissionDenied(NOT_AN_ISSUER)
        form = TokenIssueSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        token, secret = token_issue(actor=request.user, **form.validated_data)
        token = self.scoped_queryset().get(pk=token.pk)
        body = IssuedTokenSerializer(token, context=self.get_serializer_context()).data
        body["secret"] = secret
        location = reverse("api:token-detail", args=[token.pk], request=request)
        response = Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})
        response["Cache-Control"] = "no-store"
        # The answer kept for an Idempotency-Key replay leaves the secret out: it is never stored.
        response.replay_data = {**body, "secret": None}  # type: ignore[attr-defined]
        return response

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "principal": self.principal}

    @extend_schema(
        summary="Revoke an integration token",
        description="At once: calls with it answer 401 from now on. Revoking a token already revoked "
        "answers 409 (code already_revoked) and changes nothing.",
        request=None,
        responses={200: TokenSerializer},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = self.get_object()
        if not token_revoke(actor=request.user, token=token):
            token.refresh_from_db(fields=["revoked_at"])
            raise AlreadyRevoked(
                f"This token was already revoked at {token.revoked_at:%Y-%m-%dT%H:%M:%SZ}; "
                "it stays revoked and nothing changed."
            )
        return Response(self.get_serializer(self.scoped_queryset().get(pk=token.pk)).data)


def register(router) -> None:
    router.register("tokens", TokenViewSet, basename="token")
