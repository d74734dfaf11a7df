"""Form and query parameters the database cannot store are refused on every page.

PostgreSQL refuses NUL in text (SQLite takes it, so run these on PostgreSQL
too). The pages are walked from the URL conf and the parameters from the
forms and the admin's own filters, so that a page or a field added later is
covered without editing this file.
"""

import re

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from gates.models import Gate
from portal.forms import PortalForm
from prm.text import first_unstorable, scrub, storable_problem, validate_storable
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

NUL = "\x00"
NUL_MESSAGE = "Null characters are not allowed."
# What the pages read from the query string, besides the forms' fields.
QUERY_PARAMETERS = ["q", "page", "status", "period", "year", "gate"]


# --- the rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("plain", None),
        ("Chloé García 😀", None),
        ("a\x00b", NUL_MESSAGE),
        ("a\ud800b", "Surrogate characters are not allowed: U+D800."),
        ("\udfff", "Surrogate characters are not allowed: U+DFFF."),
    ],
)
def test_the_rule(text, problem):
    assert storable_problem(text) == problem


def test_the_rule_walks_json_documents_and_names_the_place():
    assert first_unstorable({"all": [{"metric": "ok"}, {"target": ["x", "\x00"]}]}) == (
        "all[1].target[1]",
        NUL_MESSAGE,
    )
    assert first_unstorable({"k\ud800": 1}) == ("", "A key: Surrogate characters are not allowed: U+D800.")
    assert first_unstorable({"a": [1, 2.5, None, True]}) is None
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert first_unstorable(deep) is None  # no recursion to overflow
    with pytest.raises(forms.ValidationError, match="a: Null"):
        validate_storable({"a": "\x00"})
    assert scrub("a\x00b\ud800") == "a\ufffdb\ufffd"


# --- the portal -----------------------------------------------------------------------------------


def _patterns(resolver: URLResolver, namespace: str):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and namespace in ("portal", "incentives") and entry.name:
            yield namespace, entry


def _portal_urls(partner, program) -> list[str]:
    samples = {"int": partner.pk, "slug": program.slug, "string": "2025-Q1"}
    urls = []
    for namespace, entry in _patterns(get_resolver(), ""):
        converters = entry.pattern.converters
        kwargs = {
            name: samples[type(converter).__name__.removesuffix("Converter").lower()]
            for name, converter in converters.items()
        }
        urls.append(reverse(f"{namespace}:{entry.name}", kwargs=kwargs))
    return urls


def _portal_form_fields() -> set[str]:
    names: set[str] = {"reward", "confirm"}  # the redeem button's
    pending = list(PortalForm.__subclasses__())
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        names.update(form_class.base_fields)
    return names


def _refused(response, names) -> list[str]:
    """The names a 400 page lists, or every name when the page is not that 400."""
    if response.status_code != 400:
        return [f"status {response.status_code}"]
    text = response.content.decode()
    return [name for name in names if f"<strong>{name}</strong>: {NUL_MESSAGE}" not in text]


@pytest.mark.parametrize("persona", ["partner_admin", "channel_manager", "superuser"])
def test_every_portal_page_refuses_nul_in_its_parameters_and_form_fields(client, request, partner, persona):
    program = ProgramFactory(slug="main")
    client.force_login(request.getfixturevalue(persona))
    urls = _portal_urls(partner, program)
    fields = sorted(_portal_form_fields())
    assert len(urls) > 20 and len(fields) > 15
    wrong = {}
    for url in urls:
        query = dict.fromkeys(QUERY_PARAMETERS, f"x{NUL}")
        missing = _refused(client.get(url, query), QUERY_PARAMETERS)
        if missing:
            wrong[f"GET {url}"] = missing
        body = dict.fromkeys(fields, f"x{NUL}")
        missing = _refused(client.post(url, body), fields)
        if missing:
            wrong[f"POST {url}"] = missing
    assert wrong == {}


@pytest.mark.parametrize("persona", ["partner_admin", "channel_manager", "superuser"])
def test_the_program_search_with_nul_answers_400(client, request, persona):
    ProgramFactory(name="Cloud program")
    client.force_login(request.getfixturevalue(persona))

    response = client.get("/portal/programs/?q=%00")

    assert response.status_code == 400
    assert "<strong>q</strong>: Null characters are not allowed." in response.content.decode()


def test_the_partner_search_with_nul_answers_400(client, channel_manager, partner):
    client.force_login(channel_manager)

    assert client.get("/portal/partners/?q=cloud%00").status_code == 400
    assert client.get("/portal/partners/?q=cloud").status_code == 200


def test_a_url_argument_with_nul_names_nothing(client, partner_admin, partner):
    client.force_login(partner_admin)

    assert client.get(f"/portal/incentives/{partner.pk}/2025-Q1%00/").status_code == 404


def test_percent_encoded_surrogates_arrive_replaced_and_are_searched_for(client, partner_admin):
    # Django decodes broken UTF-8 in a query string to U+FFFD: no lone surrogate reaches a view.
    client.force_login(partner_admin)

    response = client.get("/portal/programs/?q=%ED%A0%80")

    assert response.status_code == 200
    assert response.context["query"] == "\ufffd\ufffd\ufffd"


# --- the admin ------------------------------------------------------------------------------------

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _url(model, view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


def _filter_parameters(model_admin, user) -> list[str]:
    """The query parameters of the changelist's own filters (``region__exact``...)."""
    fake = RequestFactory().get("/")
    fake.user = user
    changelist = model_admin.get_changelist_instance(fake)
    return sorted({name for spec in changelist.filter_specs for name in spec.expected_parameters() if name})


def _admin_text_refused(response, names) -> list[str]:
    if response.status_code != 400:
        return [f"status {response.status_code}"]
    text = response.content.decode()
    return [name for name in names if f"<strong>{name}</strong>" not in text]


def test_the_admin_region_filter_with_nul_answers_400(client, superuser, partner):
    client.force_login(superuser)

    response = client.get("/admin/partners/partner/?region__exact=%00")

    assert response.status_code == 400
    assert client.get("/admin/partners/partner/?region__exact=emea").status_code == 200


@pytest.mark.parametrize("persona", ["channel_manager", "superuser"])
def test_every_admin_page_refuses_nul_in_its_search_filters_actions_and_form_fields(client, request, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    wrong = {}
    filters_seen = 0
    for model, model_admin in REGISTERED:
        parameters = ["q", *_filter_parameters(model_admin, user)]
        filters_seen += len(parameters) - 1
        changelist = _url(model, "changelist")
        missing = _admin_text_refused(client.get(changelist, dict.fromkeys(parameters, NUL)), parameters)
        if missing:
            wrong[f"GET {changelist}"] = missing
        action = {"action": f"delete_selected{NUL}", "_selected_action": NUL, "index": "0"}
        missing = _admin_text_refused(client.post(changelist, action), ["action", "_selected_action"])
        if missing:
            wrong[f"POST {changelist}"] = missing
        fake = RequestFactory().get("/")
        fake.user = user
        fields = sorted(model_admin.get_form(fake).base_fields)
        if fields:
            add = _url(model, "add")
            missing = _admin_text_refused(client.post(add, dict.fromkeys(fields, f"x{NUL}")), fields)
            if missing:
                wrong[f"POST {add}"] = missing
    assert len(REGISTERED) > 20 and filters_seen > 20
    assert wrong == {}


@pytest.mark.parametrize(
    "escaped", ['["\\u0000"]', '{"metric": "\\ud800"}', '{"\\u0000": 1}'], ids=["nul", "surrogate", "key"]
)
def test_every_json_field_of_the_admin_refuses_escaped_unstorable_text(client, superuser, escaped):
    """The middleware sees the text ``\\u0000``; only decoding the JSON reveals the character."""
    client.force_login(superuser)
    fake = RequestFactory().get("/")
    fake.user = superuser
    checked = []
    for model, model_admin in REGISTERED:
        form_class = model_admin.get_form(fake)
        json_fields = [
            name for name, field in form_class.base_fields.items() if isinstance(field, forms.JSONField)
        ]
        for name in json_fields:
            before = model._default_manager.count()
            response = client.post(_url(model, "add"), {name: escaped})
            checked.append(f"{model._meta.label}.{name}")
            assert response.status_code in (200, 403), (model, name, response.status_code)
            assert model._default_manager.count() == before
            if response.status_code == 200:
                assert name in response.context["adminform"].form.errors, (model, name)
    assert {"gates.Gate.criteria", "programs.Segment.criteria"} <= set(checked)


def test_a_gate_criteria_with_an_escaped_nul_is_refused_with_the_reason(client, superuser):
    client.force_login(superuser)

    response = client.post(
        _url(Gate, "add"),
        {
            "criteria": '{"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["\\u0000"]}'
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["criteria"]
    assert errors == [f"target[0]: {NUL_MESSAGE}"]


def test_html_answers_keep_the_page_layout(client, partner_admin):
    client.force_login(partner_admin)

    response = client.get("/portal/programs/", {"q": NUL})

    assert re.search(r"<h1>Request not accepted</h1>", response.content.decode())
    assert response["Content-Type"].startswith("text/html")


def test_the_apis_answer_for_an_unknown_path_stays_json(client, partner_admin):
    client.force_login(partner_admin)

    response = client.get("/api/v1/no-such-thing/", {"q": NUL})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"] == {"q": [NUL_MESSAGE]}
