"""Every route of the router, walked from its URL patterns so that a new endpoint is covered too.

* a detail route answers 404 for an id it cannot parse;
* every list filters through the one strict backend: a filter given empty is
  refused with the same 400 everywhere;
* a partner filter answers alike for an id the caller may not see and for one
  that does not exist, so that it cannot be used to learn which ids exist.
"""

import re
from urllib.parse import quote

import pytest
from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter

from api.filtering import StrictFilterBackend
from api.urls import router
from partners.models import Partner

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UNPARSABLE_IDS = ["false", "-1", "1.5", "9" * 40, "ünïcødé"]


def _routes():
    """(pattern, name, view class, {method: action}) of every route the router serves."""
    for pattern in router.urls:
        view_class = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None)
        if view_class is None or not actions:
            continue  # the browsable root
        yield str(pattern.pattern), pattern.name, view_class, actions


DETAIL_ROUTES = [
    (pattern, method) for pattern, _, _, actions in _routes() if "(?P<pk>" in pattern for method in actions
]
LIST_ROUTES = [
    (pattern, view_class) for pattern, _, view_class, actions in _routes() if actions.get("get") == "list"
]


def _url(pattern: str, pk: str = "") -> str:
    path = re.sub(r"\(\?P<pk>[^)]*\)", quote(pk), pattern).removeprefix("^").removesuffix("$")
    return f"{V1}/{path}"


def _filterset(view_class):
    view = view_class()
    view.action = "list"
    return getattr(view, "filterset_class", None)


def _filters(view_class) -> list[str]:
    filterset = _filterset(view_class)
    return list(filterset.base_filters) if filterset is not None else []


def _answer(client, method: str, url: str) -> tuple[int, dict]:
    """Status and JSON body; a server error (raised by the test client) as status 500."""
    try:
        response = getattr(client, method)(url, {}, format="json")
    except Exception as exc:
        return 500, {"exception": repr(exc)}
    return response.status_code, response.json()


def test_the_walk_finds_the_routes():
    assert len(DETAIL_ROUTES) >= 40
    assert len(LIST_ROUTES) >= 20
    assert ("^incentive-statements/(?P<pk>[^/.]+)/$", "get") in DETAIL_ROUTES
    assert ("^partners/(?P<pk>[^/.]+)/standing/$", "get") in DETAIL_ROUTES
    assert ("^partners/(?P<pk>[^/.]+)/$", "patch") in DETAIL_ROUTES
    for command in ("onboard", "activate", "suspend", "reinstate", "terminate"):
        assert (f"^partners/(?P<pk>[^/.]+)/{command}/$", "post") in DETAIL_ROUTES
    for pattern in ("^segment-memberships/$", "^benefit-grants/$"):
        assert pattern in {route for route, _ in LIST_ROUTES}
    assert sum(len(_filters(view_class)) for _, view_class in LIST_ROUTES) >= 80


def test_every_detail_route_answers_404_for_an_id_it_cannot_parse(client_for, superuser, world):
    # The superuser sees everything and holds every permission: only the id can fail.
    client = client_for(superuser)
    wrong = {}
    for pattern, method in DETAIL_ROUTES:
        for pk in UNPARSABLE_IDS:
            url = _url(pattern, pk)
            status, body = _answer(client, method, url)
            if status != 404 or body.get("code") != "not_found":
                wrong[f"{method.upper()} {url}"] = (status, body)
    assert wrong == {}


def test_every_list_filters_with_the_strict_backend():
    for pattern, view_class in LIST_ROUTES:
        if _filterset(view_class) is not None:
            assert StrictFilterBackend in view_class.filter_backends, pattern


def test_a_viewset_cannot_filter_with_the_plain_backend():
    from django_filters.rest_framework import DjangoFilterBackend

    from api.views.base import CursorReadOnlyViewSet

    with pytest.raises(TypeError, match="StrictFilterBackend"):
        type("Lenient", (CursorReadOnlyViewSet,), {"filter_backends": [DjangoFilterBackend]})


def test_every_list_refuses_every_filter_given_empty_the_same_way(client_for, channel_manager, world):
    client = client_for(channel_manager)
    wrong = {}
    for pattern, view_class in LIST_ROUTES:
        for name in _filters(view_class):
            url = f"{_url(pattern)}?{name}="
            status, body = _answer(client, "get", url)
            if status != 400 or body.get("errors") != {name: ["Give a value, or leave the parameter out."]}:
                wrong[url] = (status, body)
    assert wrong == {}


def test_no_list_filters_on_model_choices():
    """A model choice answers "Select a valid choice" for an id that does not exist, and an empty
    list for one that exists out of sight: the difference confirms it exists. Ids are plain numbers."""
    for pattern, view_class in LIST_ROUTES:
        filterset = _filterset(view_class)
        for name, declared in (filterset.base_filters if filterset else {}).items():
            assert not isinstance(declared, ModelChoiceFilter | ModelMultipleChoiceFilter), (pattern, name)


def test_a_partner_out_of_sight_answers_like_one_that_does_not_exist(client_for, partner_admin, world):
    client = client_for(partner_admin)
    nowhere = Partner.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    walked, wrong = [], {}
    for pattern, view_class in LIST_ROUTES:
        if "partner" not in _filters(view_class):
            continue
        walked.append(_url(pattern))
        hidden = _answer(client, "get", f"{_url(pattern)}?partner={world.globex.pk}")
        missing = _answer(client, "get", f"{_url(pattern)}?partner={nowhere}")
        if hidden != missing or hidden[0] != 200 or hidden[1].get("results") != []:
            wrong[_url(pattern)] = {"hidden": hidden, "missing": missing}
    assert wrong == {}
    assert f"{V1}/ledger-entries/" in walked and f"{V1}/sales/" in walked
