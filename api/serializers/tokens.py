"""Integration tokens as the API issues, lists and revokes them; the secret appears only in the
answer to the issue."""

from rest_framework import serializers

from api.models import IntegrationToken, TokenScope
from api.resources import SCOPES
from core.serializers import StrictModelSerializer, StrictSerializer
from partners.models import Partner

_SCOPES_HELP = (
    "Resource scopes, e.g. facts:write or gates:read: with some, the token calls only the resources "
    "they name (a :write scope reads its resource too and needs scope read_write); with none, the "
    "scope alone decides. The scopes are listed in the tokenAuth security scheme."
)


class TokenSerializer(StrictModelSerializer):
    prefix = serializers.CharField(
        read_only=True, help_text="The start of the secret, prm_<identifier>_: how a person recognises it."
    )
    resource_scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPES), read_only=True, help_text=_SCOPES_HELP
    )
    partners = serializers.PrimaryKeyRelatedField(  # type: ignore[var-annotated]  # read only: no queryset
        many=True, read_only=True, help_text="The partners covered, when not all partners."
    )
    issued_by = serializers.IntegerField(
        source="issued_by_id", read_only=True, help_text="The user the token acts for."
    )
    revoked_by = serializers.IntegerField(source="revoked_by_id", read_only=True, allow_null=True)

    class Meta:
        model = IntegrationToken
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "resource_scopes",
            "all_partners",
            "partners",
            "source",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
            "issued_by",
        ]
        read_only_fields = fields


class IssuedTokenSerializer(TokenSerializer):
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The whole token (prm_…), shown in this answer only: store it now. Only its digest is "
        "kept, so an Idempotency-Key replay of the answer has null here.",
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class TokenIssueSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, help_text="What the token is for, e.g. “Salesforce sync”.")
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)
    resource_scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPES),
        required=False,
        default=list,
        max_length=len(SCOPES),
        help_text=_SCOPES_HELP,
    )
    all_partners = serializers.BooleanField(
        default=False, help_text="Every partner you see; otherwise name them in partners."
    )
    partners = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Partner.objects.none(),
        help_text="The partners the token covers (ids among those you see), unless all_partners.",
    )
    source = serializers.SlugField(  # type: ignore[assignment]  # a field, not Field.source
        max_length=50,
        required=False,
        default="",
        allow_blank=True,
        help_text="Facts pushed with the token are recorded under this source; empty lets each batch name it.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When it stops working; never if null."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        principal = self.context.get("principal")
        if principal is not None:
            # Choices through the door: a partner the issuer may not see is "does not exist".
            field = self.fields["partners"]
            assert isinstance(field, serializers.ManyRelatedField)
            field.child_relation.queryset = Partner.objects.visible_to(principal)  # type: ignore[arg-type]  # the stubs read it as a manager

    def validate_resource_scopes(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Name each scope once.")
        return value
