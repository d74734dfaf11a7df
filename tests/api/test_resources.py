"""Resource scopes: every endpoint names its resource, and a token carrying resource scopes calls
only the resources they name, reading with ``<resource>:read`` (or ``:write``), changing with
``<resource>:write``. A token without any keeps its coarse scope, as before."""

import pytest
from django.urls import URLPattern, URLResolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.exceptions import PermissionDenied

from api import urls as api_urls
from api.models import TokenScope
from api.permissions import require_resource_scope
from api.resources import RESOURCES, SCOPES, UNDECLARED
from api.services import token_issue

V1 = "/api/v1"


def _view_classes(patterns=api_urls.urlpatterns, prefix=""):
    """(route, view class) of every API endpoint, router and plain views alike."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _view_classes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "cls", None) or getattr(
                pattern.callback, "view_class", None
            )
            if view_class is not None:
                yield prefix + str(pattern.pattern), view_class


def test_every_routed_view_names_its_resource():
    routes = list(_view_classes())
    assert len(routes) > 60
    undeclared = sorted(
        {route for route, view in routes if getattr(view, "resource", UNDECLARED) is UNDECLARED}
    )
    unknown = sorted(
        {route for route, view in routes if isinstance(getattr(view, "resource", None), str)}
        - {route for route, view in routes if getattr(view, "resource", None) in RESOURCES}
    )
    assert undeclared == []
    assert unknown == []


def test_a_view_that_names_no_resource_refuses_a_token_with_resource_scopes(channel_manager):
    token, _ = token_issue(
        actor=channel_manager,
        name="LMS",
        scope=TokenScope.READ,
        all_partners=True,
        resource_scopes=["gates:read"],
    )

    class Undeclared:
        pass

    with pytest.raises(PermissionDenied, match="names no resource scope"):
        require_resource_scope(token, Undeclared(), write=False)


@pytest.fixture
def scoped(issue_token, token_client, channel_manager):
    def make(*scopes, scope=TokenScope.READ_WRITE):
        return token_client(issue_token(channel_manager, scope=scope, resource_scopes=list(scopes))[1])

    return make


def _bulk_sale(world) -> dict:
    return {
        "source": "crm",
        "records": [
            {
                "external_id": "scoped-1",
                "partner": world.acme.pk,
                "amount": "10",
                "currency": "USD",
                "product_line": "cloud",
                "closed_on": "2026-01-05",
            }
        ],
    }


def test_a_write_scope_reads_and_writes_its_resource_only(scoped, world):
    client = scoped("facts:write", "partners:read")

    assert client.get(f"{V1}/sales/").status_code == 200
    assert client.post(f"{V1}/sales/bulk/", _bulk_sale(world), format="json").status_code == 200
    assert client.get(f"{V1}/partners/{world.acme.pk}/").status_code == 200
    refused_write = client.patch(f"{V1}/partners/{world.acme.pk}/", {"name": "Renamed"}, format="json")
    refused_read = client.get(f"{V1}/gates/")

    assert refused_write.status_code == 403
    assert refused_write.json() == {
        "status": 403,
        "code": "permission_denied",
        "detail": "This token lacks the scope partners:write that this call needs.",
    }
    assert refused_read.status_code == 403
    assert refused_read.json()["detail"] == (
        "This token lacks the scope gates:read (or gates:write) that this call needs."
    )
    world.acme.refresh_from_db()
    assert world.acme.name == "Acme"


def test_a_read_scope_reads_and_never_writes(scoped, world):
    client = scoped("facts:read")

    assert client.get(f"{V1}/sales/").status_code == 200
    refused = client.post(f"{V1}/sales/bulk/", _bulk_sale(world), format="json")

    assert refused.status_code == 403
    assert refused.json()["detail"] == "This token lacks the scope facts:write that this call needs."


def test_a_read_token_with_read_scopes_is_still_read_only(scoped, world):
    client = scoped("facts:read", scope=TokenScope.READ)

    assert client.get(f"{V1}/sales/").status_code == 200
    refused = client.post(f"{V1}/sales/bulk/", _bulk_sale(world), format="json")
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]


def test_a_token_without_resource_scopes_keeps_its_coarse_scope(scoped, world):
    client = scoped()

    assert client.get(f"{V1}/gates/").status_code == 200
    assert client.post(f"{V1}/sales/bulk/", _bulk_sale(world), format="json").status_code == 200


def test_endpoints_without_a_resource_take_no_scope(scoped, world):
    client = scoped("gates:read")

    assert client.get(f"{V1}/me/").json()["token"]["resource_scopes"] == ["gates:read"]
    assert client.get(f"{V1}/criteria-schema/").status_code == 200
    assert client.get(f"{V1}/").status_code == 200


def test_sessions_are_not_concerned(client_for, channel_manager, world):
    assert client_for(channel_manager).get(f"{V1}/gates/").status_code == 200


def test_the_openapi_document_lists_the_scopes_and_names_each_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    description = schema["components"]["securitySchemes"]["tokenAuth"]["description"]
    assert all(f"`{scope}`" in description for scope in SCOPES)
    assert schema["paths"]["/api/v1/sales/bulk/"]["post"]["x-resource-scope"] == "facts:write"
    assert schema["paths"]["/api/v1/gates/"]["get"]["x-resource-scope"] == "gates:read"
    assert "x-resource-scope" not in schema["paths"]["/api/v1/me/"]["get"]
    assert "x-resource-scope" not in schema["paths"]["/api/v1/tokens/"]["post"]
    assert schema["components"]["schemas"]["TokenIssueRequest"]["properties"]["resource_scopes"]["items"]
