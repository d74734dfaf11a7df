"""Errors answer in the product's look, with a way back, for signed-in users and strangers alike."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import path

from prm import urls as project_urls

pytestmark = pytest.mark.django_db


def _refused(request):
    raise PermissionDenied


def _broken(request):
    raise RuntimeError("broken on purpose")


urlpatterns = [path("refused/", _refused), path("broken/", _broken), *project_urls.urlpatterns]


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_missing_page_is_the_products_404(client, partner_admin, signed_in):
    if signed_in:
        client.force_login(partner_admin)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist, or it is not open to you" in html
    assert 'href="/static/css/prm.css"' in html and "Back to your dashboard" in html


@override_settings(ROOT_URLCONF=__name__)
def test_a_refusal_is_the_products_403(client, partner_admin):
    client.force_login(partner_admin)
    response = client.get("/refused/")
    assert response.status_code == 403
    assert "You are not allowed to do this" in response.content.decode()


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_is_the_products_500_without_details():
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html and "broken on purpose" not in html


def test_an_expired_form_says_so_and_saves_nothing(partner_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_admin)
    response = client.post("/portal/deals/new/", {"customer_name": "Contoso"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
