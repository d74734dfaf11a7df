"""Every page names its icon, and /favicon.ico (which browsers ask for anyway) leads to it."""

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_icon_in_the_static_files(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("img/favicon.svg")
    assert finders.find("img/favicon.svg")


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_the_portal_and_the_admin_name_the_icon(client, url):
    assert 'rel="icon" href="/static/img/favicon.svg"' in client.get(url).content.decode()
