"""Every route of the router, walked from its URL patterns so that a new endpoint is covered too.

* a detail route answers 404 for an id it cannot parse.
"""

import re
from urllib.parse import quote

import pytest

from api.urls import router

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


def _url(pattern: str, pk: str = "") -> str:
    path = re.sub(r"\(\?P<pk>[^)]*\)", quote(pk), pattern).removeprefix("^").removesuffix("$")
    return f"{V1}/{path}"


def _answer(client, method: str, url: str) -> tuple[int, dict]:
    """Status and JSON body; a server error (raised by the test client) as status 500."""
    try:
        response = getattr(client, method)(url, {}, format="json")
    except Exception as exc:
        return 500, {"exception": repr(exc)}
    return response.status_code, response.json()


def test_the_walk_finds_the_routes():
    assert len(DETAIL_ROUTES) >= 40
    assert ("^incentive-statements/(?P<pk>[^/.]+)/$", "get") in DETAIL_ROUTES


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
