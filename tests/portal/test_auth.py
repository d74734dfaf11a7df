"""Logging in and out, changing a password, and resetting it by email, in the portal's own pages."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_login_lands_on_the_dashboard_and_a_wrong_password_says_so(client, partner_admin):
    page = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">' in page and '<label for="id_password">' in page
    wrong = client.post(reverse("login"), {"username": "pat", "password": "nope"})
    assert wrong.status_code == 200
    assert "Please enter a correct username and password" in wrong.content.decode()
    assert 'value="pat"' in wrong.content.decode()
    right = client.post(reverse("login"), {"username": "pat", "password": "password"})
    assert right.status_code == 302 and right["Location"] == "/portal/"


def test_a_protected_page_sends_to_the_login_and_back(client, partner_admin):
    response = client.get(reverse("portal:deals"))
    assert response["Location"] == "/accounts/login/?next=/portal/deals/"
    after = client.post(
        "/accounts/login/?next=/portal/deals/",
        {"username": "pat", "password": "password", "next": "/portal/deals/"},
    )
    assert after["Location"] == "/portal/deals/"


def test_logout_is_a_post(client, partner_admin):
    client.force_login(partner_admin)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response["Location"] == "/accounts/login/"
    assert client.get("/portal/").status_code == 302


def test_changing_the_password(client, partner_admin):
    client.force_login(partner_admin)
    page = client.get(reverse("password_change")).content.decode()
    assert '<label for="id_old_password">' in page
    bad = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "a-Better-pass-42", "new_password2": "a-Better-pass-42"},
    )
    assert bad.status_code == 200 and "Your old password was entered incorrectly" in bad.content.decode()
    good = client.post(
        reverse("password_change"),
        {
            "old_password": "password",
            "new_password1": "a-Better-pass-42",
            "new_password2": "a-Better-pass-42",
        },
        follow=True,
    )
    assert "Password changed" in good.content.decode()
    partner_admin.refresh_from_db()
    assert partner_admin.check_password("a-Better-pass-42")


def test_resetting_a_forgotten_password_by_email(client, django_capture_on_commit_callbacks):
    user = UserFactory(username="forgetful", email="forgetful@acme.example")
    # The email goes from a task queued after commit.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "forgetful@acme.example"}, follow=True)
    assert "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@acme.example"]
    assert mail.outbox[0].subject == "Reset your partner portal password"
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Fresh-start-2026", "new_password2": "Fresh-start-2026"},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    user.refresh_from_db()
    assert user.check_password("Fresh-start-2026")
    used = client.get(link, follow=True)
    assert "This link no longer works" in used.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert "Check your email" in response.content.decode()
    assert mail.outbox == []
