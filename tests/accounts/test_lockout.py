"""Failed logins pause signing in, on the portal and the admin login, per account and per address.

The defaults are in force: 5 failures per account, 20 per address, a 15-minute
cool-off. The clock is moved, never waited for.
"""

import datetime

import pytest
import time_machine
from axes.exceptions import AxesBackendRequestParameterRequired
from axes.models import AccessAttempt
from django.http import HttpRequest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
HERE = "203.0.113.10"
ELSEWHERE = "198.51.100.20"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def log_in(client, username: str, password: str, *, url: str = LOGIN, address: str = HERE):
    data = {"username": username, "password": password}
    if url == ADMIN_LOGIN:
        data["next"] = "/admin/"
    return client.post(url, data, REMOTE_ADDR=address)


def fail(client, username: str, times: int, **kwargs) -> list[int]:
    return [log_in(client, username, "wrong-guess", **kwargs).status_code for _ in range(times)]


def assert_paused(response, *, minutes: int = 15) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(minutes * 60)
    page = response.content.decode()
    assert "Signing in is paused" in page
    assert f"paused for up to {minutes} minutes" in page


class TestPortalLogin:
    def test_five_failures_pause_the_account_even_for_the_right_password(self, client, clock, partner_admin):
        assert fail(client, "pat", 4) == [200, 200, 200, 200]

        fifth = log_in(client, "pat", "wrong-guess")
        right = log_in(client, "pat", "password")

        assert_paused(fifth)
        assert_paused(right)
        assert "_auth_user_id" not in client.session
        assert client.get("/portal/")["Location"] == "/accounts/login/?next=/portal/"

    def test_the_pause_ends_after_the_cool_off(self, client, clock, partner_admin):
        fail(client, "pat", 5)

        clock.shift(datetime.timedelta(minutes=14, seconds=59))
        assert_paused(log_in(client, "pat", "password"))
        clock.shift(datetime.timedelta(seconds=2))
        response = log_in(client, "pat", "password")

        assert response.status_code == 302 and response["Location"] == "/portal/"

    def test_attempts_during_the_pause_do_not_extend_it(self, client, clock, partner_admin):
        fail(client, "pat", 5)
        for _ in range(7):
            clock.shift(datetime.timedelta(minutes=2))
            assert_paused(log_in(client, "pat", "wrong-guess"))

        clock.shift(datetime.timedelta(minutes=1, seconds=1))

        assert log_in(client, "pat", "password").status_code == 302

    def test_a_successful_login_forgets_the_failures_before_it(self, client, clock, partner_admin):
        fail(client, "pat", 4)
        assert log_in(client, "pat", "password").status_code == 302
        client.post("/accounts/logout/")

        assert fail(client, "pat", 4) == [200, 200, 200, 200]
        assert log_in(client, "pat", "password").status_code == 302

    def test_the_account_is_paused_whatever_the_address(self, client, clock, partner_admin):
        for number in range(5):
            fail(client, "pat", 1, address=f"192.0.2.{number + 1}")

        assert_paused(log_in(client, "pat", "password", address=ELSEWHERE))

    def test_one_address_is_paused_across_usernames(self, client, clock, partner_admin):
        # Twenty accounts, each tried once, reach the address's limit but none's own.
        assert fail(client, "pat", 1) == [200]
        for number in range(19):
            assert fail(client, f"guess{number}", 1) == [200 if number < 18 else 429]

        assert_paused(log_in(client, "pat", "password"))
        elsewhere = log_in(client, "pat", "password", address=ELSEWHERE)
        assert elsewhere.status_code == 302

    def test_signing_in_to_ones_own_account_does_not_reset_the_address(self, client, clock, partner_admin):
        """Someone holding one login cannot clear the count of guesses at another."""
        UserFactory(username="mallory")
        for _ in range(4):
            fail(client, "pat", 1)
            assert log_in(client, "mallory", "password").status_code == 302
            client.post("/accounts/logout/")

        assert_paused(log_in(client, "pat", "wrong-guess"))

    def test_the_address_counted_is_the_one_the_trusted_proxy_reports(
        self, client, clock, settings, partner_admin
    ):
        settings.PRM_TRUSTED_PROXY_COUNT = 1
        for number in range(5):
            # The client rewrites the header each time; the proxy appends the real address.
            client.post(
                LOGIN,
                {"username": f"guess{number}", "password": "x"},
                REMOTE_ADDR="192.0.2.250",
                HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, {HERE}",
            )

        assert list(AccessAttempt.objects.values_list("ip_address", flat=True).distinct()) == [HERE]

    def test_the_limits_follow_the_settings(self, client, clock, settings, partner_admin):
        settings.AXES_FAILURE_LIMIT = 2
        settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=3)

        assert fail(client, "pat", 2) == [200, 429]
        assert_paused(log_in(client, "pat", "password"), minutes=3)
        clock.shift(datetime.timedelta(minutes=3, seconds=1))
        assert log_in(client, "pat", "password").status_code == 302


class TestAdminLogin:
    def test_five_failures_pause_the_admin_login_even_for_the_right_password(self, client, clock, superuser):
        assert fail(client, "root", 4, url=ADMIN_LOGIN) == [200, 200, 200, 200]

        fifth = log_in(client, "root", "wrong-guess", url=ADMIN_LOGIN)
        right = log_in(client, "root", "password", url=ADMIN_LOGIN)

        assert_paused(fifth)
        assert_paused(right)
        assert "PRM – channel management" in right.content.decode()  # the admin's look
        assert client.get("/admin/").status_code == 302

    def test_the_admin_pause_ends_after_the_cool_off(self, client, clock, superuser):
        fail(client, "root", 5, url=ADMIN_LOGIN)
        clock.shift(datetime.timedelta(minutes=15, seconds=1))

        response = log_in(client, "root", "password", url=ADMIN_LOGIN)

        assert response.status_code == 302 and response["Location"] == "/admin/"

    def test_portal_and_admin_failures_count_together(self, client, clock, channel_manager):
        fail(client, "morgan", 3)
        fail(client, "morgan", 2, url=ADMIN_LOGIN)

        assert_paused(log_in(client, "morgan", "password"))
        assert_paused(log_in(client, "morgan", "password", url=ADMIN_LOGIN))


class TestNothingAboutTheAccount:
    def test_failing_for_a_login_that_exists_and_one_that_does_not_reads_the_same(
        self, client, clock, partner_admin
    ):
        existing = log_in(client, "pat", "wrong-guess")
        unknown = log_in(client, "nobody", "wrong-guess", address=ELSEWHERE)

        assert existing.status_code == unknown.status_code == 200
        message = "Please enter a correct username and password"
        assert message in existing.content.decode() and message in unknown.content.decode()

    def test_the_pause_reads_the_same_for_a_login_that_does_not_exist(self, client, clock, partner_admin):
        fail(client, "pat", 5)
        fail(client, "nobody", 5, address=ELSEWHERE)

        existing = log_in(client, "pat", "password")
        unknown = log_in(client, "nobody", "password", address=ELSEWHERE)

        assert_paused(existing)
        assert_paused(unknown)
        assert existing.content == unknown.content
        assert b"pat" not in existing.content


def test_the_test_client_logs_in_when_given_a_request(client, partner_admin):
    """``authenticate()`` needs a request for the lockout to count by; ``client.login()`` sends none."""
    with pytest.raises(AxesBackendRequestParameterRequired):
        client.login(username="pat", password="password")

    assert client.login(request=HttpRequest(), username="pat", password="password")
    assert client.get("/portal/").status_code == 200
