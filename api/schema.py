"""OpenAPI description: the token scheme and the error responses every operation may give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated for clients that log bodies only.")
    code = serializers.CharField(help_text="A stable code: invalid, not_found, permission_denied, throttled…")
    detail = serializers.CharField(help_text="A sentence for a person.")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.JSONField(),
        required=False,
        help_text="On validation errors: each field (or non_field_errors) with its messages.",
    )

    class Meta:
        ref_name = "Error"


_DESCRIPTIONS = {
    "400": "The request is not valid: the body names each problem.",
    "401": "No credentials, or a token that is unknown, revoked or expired.",
    "403": "Signed in, but not allowed to do this (or a read-only token).",
    "404": "No such object among those the caller may see.",
    "406": "The Accept header asks for a format the API does not serve.",
    "413": "The body is larger than the API accepts.",
    "415": "The body is not JSON.",
    "429": "Too many requests: wait for the number of seconds in Retry-After.",
}


class PRMAutoSchema(AutoSchema):
    def _error_statuses(self) -> list[str]:
        statuses = ["401", "403", "406", "429"]
        has_path_id = "{" in self.path
        if self.method == "GET":
            statuses.append("400")
            if has_path_id or self._is_list_view():
                statuses.append("404")  # an object hidden or missing; a page past the end
        elif self.method in ("POST", "PUT", "PATCH"):
            statuses += ["400", "413", "415"]
            if has_path_id:
                statuses.append("404")
        elif self.method == "DELETE":
            statuses.append("404")
        return sorted(set(statuses))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if status not in responses:
                response = self._get_response_for_code(ErrorSerializer, status, direction=direction)
                response["description"] = _DESCRIPTIONS[status]
                responses[status] = response
        return dict(sorted(responses.items()))


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.IntegrationTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration token issued in the admin: `Authorization: Bearer prm_…`.",
        }


class GateStateFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "api.serializers.gates.GateStateField"

    def map_serializer_field(self, auto_schema, direction):
        values = ["draft", "active"] if direction == "request" else ["draft", "active", "retired"]
        return {"type": "string", "enum": values, "description": "retired only through the retire action"}
