"""OpenAPI description: the token scheme, the error responses every operation may give, and
the constraints the validation enforces, stated so that a client (or a fuzzer) generating
requests from the schema alone sends what the API accepts.
"""

import django_filters
from django.conf import settings
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from api.benefit_schema import benefit_request_schema
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import KEY_PATTERN, REPLAYED_HEADER
from api.patterns import decimal_pattern
from api.resources import needed_scope, scopes_description
from api.rule_schema import rule_request_schema
from gates.criteria_schema import criteria_openapi_components
from gates.models import GateState
from prm.ids import MAX_ID


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
    "409": "The request conflicts with the present state: a name already taken, a deal already decided, "
    "an object still in use that cannot be deleted, or a request with the same Idempotency-Key still being answered.",
    "412": "The object changed since the ETag sent in If-Match: read it again, then retry.",
    "413": "The body is larger than the API accepts.",
    "415": "The body is not JSON.",
    "422": "The Idempotency-Key was already used for another request (another body or path).",
    "429": "Too many requests: wait for the number of seconds in Retry-After.",
}


_TAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description="The version of this representation: send it as If-Match to change the object, "
    "or as If-None-Match to read it only if it changed.",
)
_IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="An ETag read before: the answer is 304, with no body, while it is still current.",
)
_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag read before changing the object: if it has changed since, the answer is 412 "
    "and nothing is written. `*` matches any version.",
)
_IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "pattern": KEY_PATTERN, "minLength": 1, "maxLength": 255},
    OpenApiParameter.HEADER,
    description="A key of the client's choosing (a UUID, say) that makes sending this request again safe: "
    "within 24 hours the same key and body replay the first answer, marked "
    f"`{REPLAYED_HEADER}: true`, without acting twice; the same key with another body answers 422.",
)


class PRMAutoSchema(AutoSchema):
    def _conventions(self) -> bool:
        return bool(getattr(self.view, "honours_conditional_requests", False))

    def _action(self) -> str | None:
        return getattr(self.view, "action", None)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if not self._conventions():
            return parameters
        action = self._action()
        if self.method == "GET" and action == "retrieve":
            parameters += [_IF_NONE_MATCH, _TAG]
        elif self.method in ("PUT", "PATCH") and action in ("update", "partial_update"):
            parameters += [_IF_MATCH, _TAG]
        elif self.method == "DELETE" and action == "destroy":
            parameters.append(_IF_MATCH)
        elif self.method == "POST":
            parameters.append(_IDEMPOTENCY_KEY)
        return parameters

    def _error_statuses(self) -> list[str]:
        statuses = ["401", "403", "406", "429"]
        has_path_id = "{" in self.path
        if self._conventions():
            if self.method in ("PUT", "PATCH", "DELETE") and self._action() in (
                "update",
                "partial_update",
                "destroy",
            ):
                statuses.append("412")
            elif self.method == "POST":
                statuses.append("422")
        if self.method == "GET":
            statuses.append("400")
            if has_path_id or self._is_list_view():
                statuses.append("404")  # an object hidden or missing; a page past the end
        elif self.method in ("POST", "PUT", "PATCH"):
            statuses += ["400", "409", "413", "415"]
            if has_path_id:
                statuses.append("404")
        elif self.method == "DELETE":
            statuses.append("404")
            if getattr(self.view, "delete_may_conflict", False):
                statuses.append("409")  # still referred to by rows the database protects
        return sorted(set(statuses))

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        resource = getattr(self.view, "resource", None)
        if operation is not None and isinstance(resource, str):
            # The resource scope a token with resource scopes needs for this operation.
            operation["x-resource-scope"] = needed_scope(resource, write=self.method not in ("GET", "HEAD"))
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and "pattern" in schema:
            schema["pattern"] = decimal_pattern(field)
        if (
            type(field) is serializers.CharField
            and direction == "request"
            and not field.allow_blank
            and field.trim_whitespace
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            # Leading and trailing spaces are trimmed before the field is checked: a text of
            # spaces alone is blank, and refused.
            schema["pattern"] = r"\S"
        if isinstance(field, serializers.FileField) and not field.allow_empty_file and direction == "request":
            # An empty file answers 400 "The submitted file is empty."
            schema["minLength"] = 1
        return schema

    def _unwrap_list_serializer(self, serializer, direction):
        """A list body or field with the bounds its ListSerializer enforces (``[]`` refused, at
        most so many)."""
        schema = super()._unwrap_list_serializer(serializer, direction)
        if schema is not None and is_list_serializer(serializer):
            # DRF's bounds (3.15 on), which its type stubs do not know yet.
            low, high = getattr(serializer, "min_length", None), getattr(serializer, "max_length", None)
            if not getattr(serializer, "allow_empty", True):
                low = max(low or 0, 1)
            if low is not None:
                schema["minItems"] = low
            if high is not None:
                schema["maxItems"] = high
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if status not in responses:
                response = self._get_response_for_code(ErrorSerializer, status, direction=direction)
                response["description"] = _DESCRIPTIONS[status]
                responses[status] = response
        if self._conventions() and self.method == "GET" and self._action() == "retrieve":
            responses["304"] = {"description": "Not modified: the ETag in If-None-Match is still current."}
        return dict(sorted(responses.items()))


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.IntegrationTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration token issued in the admin or with `POST /api/v1/tokens/`: "
            "`Authorization: Bearer prm_…`. A token acts for its issuer and never sees more than they do; "
            "a read token only reads. A token may also carry resource scopes: with some, it calls only "
            "the resources they name, `<resource>:read` (or `:write`) to read and `<resource>:write` to "
            "change, and a call outside them answers 403 naming the scope it needs; with none, its scope "
            "alone decides. Each operation names its resource in `x-resource-scope`. The scopes:\n\n"
            + scopes_description(),
        }


class GateStateFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "api.serializers.gates.GateStateField"

    def map_serializer_field(self, auto_schema, direction):
        values = ["draft", "active"] if direction == "request" else ["draft", "active", "retired"]
        return {"type": "string", "enum": values, "description": "retired only through the retire action"}


class StrictFilterExtension(DjangoFilterExtension):
    """The filters' parameters as ``StrictFilterBackend`` reads them.

    An empty value is refused (so text has a length of at least one), ids are whole
    numbers from 1 to the largest key, and numeric filters carry their field's bounds.
    """

    target_class = "api.filtering.StrictFilterBackend"
    priority = 1  # before drf-spectacular's own extension, which matches the parent class

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        for parameter in parameters:
            schema = parameter["schema"]
            bounds = _field_bounds(filter_field)
            if bounds is not None:
                schema.pop("format", None)
                schema.update(type="integer", **bounds)
            elif schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
                schema["minLength"] = 1
        return parameters


def _field_bounds(declared: django_filters.Filter) -> dict | None:
    """minimum/maximum of a whole-number filter (an id, a level), None for any other filter."""
    if not isinstance(declared, django_filters.NumberFilter):
        return None
    field = declared.field
    low, high = getattr(field, "min_value", None), getattr(field, "max_value", None)
    if low is None and high is None:
        return None
    return {"minimum": low if low is not None else -MAX_ID, "maximum": high if high is not None else MAX_ID}


# Rules across fields, which a serializer states in ``validate`` and the schema in JSON Schema.
_PARTNER = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "Re-evaluate this partner."}
_REQUEST_RULES: dict[str, dict] = {
    # One partner, or everyone: ``{"partner": 3, "all": true}`` and ``{}`` are refused.
    "EvaluationRequestRequest": {
        "oneOf": [
            {
                "type": "object",
                "properties": {"partner": _PARTNER, "all": {"type": "boolean", "enum": [False]}},
                "required": ["partner"],
            },
            {
                "type": "object",
                "properties": {"all": {"type": "boolean", "enum": [True], "description": "Every partner."}},
                "required": ["all"],
                "not": {"required": ["partner"]},
            },
        ]
    },
    # A gate to try again (perhaps with other criteria), or criteria with the currency of their
    # money targets, given as such or as the program's.
    "SimulationRequestRequest": {
        "anyOf": [
            {"required": ["gate"]},
            {"required": ["criteria", "currency"]},
            {"required": ["criteria", "program"]},
        ]
    },
}
_REPLACED = {"EvaluationRequestRequest"}


def _with_whole_variants(schema: dict) -> dict:
    """Each ``anyOf`` variant that only names required fields becomes a whole object schema: the
    same rule, in the form client generators read (a variant without a type generates no model)."""
    schema["anyOf"] = [
        {"type": "object", "properties": schema["properties"], **variant}
        if "type" not in variant
        else variant
        for variant in schema.get("anyOf", [])
    ]
    return schema


def postprocess_request_rules(result, generator, request, public):
    """Add the cross-field rules, and close the batch bodies, which refuse unknown fields."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, rule in _REQUEST_RULES.items():
        if name in schemas:
            schemas[name] = rule if name in _REPLACED else _with_whole_variants({**schemas[name], **rule})
    rule_request_schema(schemas)
    benefit_request_schema(schemas)
    # A body whose rule is stated here is required: without one, the request is refused.
    for item in result.get("paths", {}).values():
        for operation in item.values():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            refs = {content.get("schema", {}).get("$ref", "") for content in body.get("content", {}).values()}
            if any(ref.rsplit("/", 1)[-1] in _REQUEST_RULES for ref in refs):
                body["required"] = True
    for name in ("GateRequest", "PatchedGateRequest"):
        # drf-spectacular's enum hook merges the gate states a write takes into those a read
        # shows; a write takes draft or active only (retiring is its own action).
        if name in schemas:
            state = schemas[name]["properties"]["state"]
            state.pop("allOf", None)
            state.update(type="string", enum=[GateState.DRAFT.value, GateState.ACTIVE.value])
    for name, schema in schemas.items():
        if name.endswith("BatchRequest"):
            schema["additionalProperties"] = False
            schema["properties"]["records"].update(minItems=1, maxItems=settings.PRM_INGESTION_MAX_ROWS)
    return result


def postprocess_criteria_schema(result, generator, request, public):
    """The criteria language as components, from the metric registry: ``Criteria`` (the tree that
    every ``CriteriaField`` refers to), its branches, one leaf per metric and the window."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(criteria_openapi_components())
    return result


_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Calls the caller may make in the window (per token, per signed-in user, per address).",
    "RateLimit-Remaining": "Calls left in the present window.",
    "RateLimit-Reset": "Seconds until the oldest call leaves the window and frees one.",
    "RateLimit-Policy": "The limit and its window in seconds, as `<limit>;w=<seconds>`.",
}


def postprocess_rate_limit_headers(result, generator, request, public):
    """Every response a throttle counted carries the caller's allowance (``api.ratelimit``)."""
    headers = result.setdefault("components", {}).setdefault("headers", {})
    for name, description in _RATE_LIMIT_HEADERS.items():
        headers[name] = {"description": description, "schema": {"type": "integer", "minimum": 0}}
    headers["RateLimit-Policy"]["schema"] = {"type": "string"}
    headers["Retry-After"] = {
        "description": "Seconds to wait before calling again.",
        "schema": {"type": "integer", "minimum": 0},
    }
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if "$ref" in response:
                    continue
                documented = response.setdefault("headers", {})
                for name in _RATE_LIMIT_HEADERS:
                    documented.setdefault(name, {"$ref": f"#/components/headers/{name}"})
                if status == "429":
                    documented.setdefault("Retry-After", {"$ref": "#/components/headers/Retry-After"})
    return result


# Creates whose answer names another resource's id: (create path, field) -> the path it opens.
_LINKED_ELSEWHERE = {("/api/v1/evaluations/", "run"): "/api/v1/evaluation-runs/{id}/"}


def _link_name(path: str, method: str, operation: dict) -> str:
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    if tail == "{id}":
        return {"get": "Read", "put": "Replace", "patch": "Change", "delete": "Delete"}.get(method, method)
    return "".join(word.capitalize() for word in tail.split("-"))


def postprocess_links(result, generator, request, public):
    """OpenAPI links from each create to the operations on what it created (read it, change it,
    approve it, retire it…), so that tools and stateful fuzzers chain them with the id answered."""
    paths = result.get("paths", {})
    for create_path, item in paths.items():
        operation = item.get("post")
        if "{" in create_path or operation is None:
            continue
        targets = [(f"{create_path}{{id}}/", "id")]
        targets += [
            (target, field) for (source, field), target in _LINKED_ELSEWHERE.items() if source == create_path
        ]
        for status in ("201", "202"):
            response = operation.get("responses", {}).get(status)
            if response is None:
                continue
            links = {}
            for detail, field in targets:
                for path, other in paths.items():
                    if path != detail and not (field == "id" and path.startswith(detail)):
                        continue
                    for method, used in other.items():
                        if method in ("get", "put", "patch", "delete", "post") and "operationId" in used:
                            links[_link_name(path, method, used)] = {
                                "operationId": used["operationId"],
                                "parameters": {"id": f"$response.body#/{field}"},
                                "description": f"{method.upper()} {path} with the {field} answered.",
                            }
            if links:
                response["links"] = dict(sorted(links.items()))
    return result
