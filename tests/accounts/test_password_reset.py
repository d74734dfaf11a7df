"""The password reset request: limited per address and per email, and silent about who has a login.

The defaults are in force: 10 requests an hour per address, 3 per email.
"""

import datetime
import re

import pytest
import time_machine
from django.core import mail

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RESET = "/accounts/password_reset/"
DONE = "/accounts/password_reset/done/"
HERE = "203.0.113.10"
ELSEWHERE = "198.51.100.20"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def forgetful(db):
    return UserFactory(username="forgetful", email="forgetful@acme.example")


def ask(client, email: str, *, address: str = HERE):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=address)


def without_csrf_token(page: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 2 * 3600
    page = response.content.decode()
    assert "Too many requests for a reset link. Try again in" in page
    assert "Reset your password" in page  # the same form, in the portal's look


class TestThrottle:
    def test_three_requests_an_hour_for_one_email(self, client, clock, forgetful):
        assert [ask(client, "forgetful@acme.example").status_code for _ in range(3)] == [302, 302, 302]

        assert_throttled(ask(client, "forgetful@acme.example"))
        # Counted per email whatever its case or the address asking.
        assert_throttled(ask(client, "Forgetful@ACME.example", address=ELSEWHERE))
        assert ask(client, "someone-else@acme.example").status_code == 302

        clock.shift(datetime.timedelta(hours=2))
        assert ask(client, "forgetful@acme.example").status_code == 302

    def test_ten_requests_an_hour_from_one_address_whatever_the_emails(self, client, clock, forgetful):
        statuses = [ask(client, f"person{number}@acme.example").status_code for number in range(10)]
        assert statuses == [302] * 10

        assert_throttled(ask(client, "forgetful@acme.example"))
        assert_throttled(client.post(RESET, {"email": "not an email"}, REMOTE_ADDR=HERE))
        assert ask(client, "forgetful@acme.example", address=ELSEWHERE).status_code == 302

        clock.shift(datetime.timedelta(hours=2))
        assert ask(client, "forgetful@acme.example").status_code == 302

    def test_refused_requests_send_nothing(
        self, client, clock, forgetful, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(6):
                ask(client, "forgetful@acme.example")

        assert len(mail.outbox) == 3


class TestNothingAboutTheAccount:
    """An email with a login and one without get the same answer for the same work."""

    def test_the_same_answer_and_work_for_an_existing_and_an_unknown_email(
        self, client, forgetful, django_assert_num_queries, django_capture_on_commit_callbacks
    ):
        answers, queued = {}, []
        for email in ("forgetful@acme.example", "nobody@acme.example"):
            # No query: the lookup and the email happen in a task queued after commit.
            with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(0):
                response = ask(client, email)
            queued.append(len(callbacks))
            page = client.get(response["Location"])
            answers[email] = (response.status_code, response["Location"], page.status_code, page.content)
            for callback in callbacks:
                callback()

        assert queued == [1, 1]
        assert answers["forgetful@acme.example"] == answers["nobody@acme.example"]
        assert answers["nobody@acme.example"][:3] == (302, DONE, 200)
        assert [message.to for message in mail.outbox] == [["forgetful@acme.example"]]

    def test_the_throttle_answers_the_same_for_an_existing_and_an_unknown_email(
        self, client, clock, forgetful
    ):
        for _ in range(3):
            ask(client, "forgetful@acme.example")
            ask(client, "nobody@acme.example", address=ELSEWHERE)

        existing = ask(client, "forgetful@acme.example")
        unknown = ask(client, "nobody@acme.example", address=ELSEWHERE)

        assert_throttled(existing)
        assert_throttled(unknown)
        assert existing["Retry-After"] == unknown["Retry-After"]
        assert without_csrf_token(existing.content).replace(b"forgetful", b"nobody") == without_csrf_token(
            unknown.content
        )

    def test_an_inactive_login_or_one_without_a_password_gets_no_email(
        self, client, django_capture_on_commit_callbacks
    ):
        UserFactory(username="gone", email="gone@acme.example", is_active=False)
        no_password = UserFactory(username="sso", email="sso@acme.example")
        no_password.set_unusable_password()
        no_password.save()

        with django_capture_on_commit_callbacks(execute=True):
            statuses = [ask(client, email).status_code for email in ("gone@acme.example", "sso@acme.example")]

        assert statuses == [302, 302]
        assert mail.outbox == []
