"""At-risk warnings in the portal: the partner's dashboard, who must renew, the manager's summary."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from gates.forecast import forecasts_refresh
from gates.models import GateForecast
from tests.factories import CertificationFactory, PersonFactory
from tests.portal.builders import tier_program

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 3, 2)


def _text(response) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def at_risk(partner, partner_sales):
    """Acme passes its Silver gate (two certified people) until Ana Silva's certification expires."""
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC), tick=False):
        tier_program(partner)
        CertificationFactory(
            person=PersonFactory(partner=partner, first_name="Ana", last_name="Silva"),
            issued_on=datetime.date(2025, 1, 1),
            expires_on=datetime.date(2026, 3, 20),
        )
        CertificationFactory(
            person=PersonFactory(partner=partner, first_name="Sally", last_name="Sales", user=partner_sales),
            issued_on=datetime.date(2025, 1, 1),
        )
        forecasts_refresh(as_of=TODAY, notify=False)
        yield GateForecast.objects.get(partner=partner)


@pytest.fixture
def on_the_day():
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC), tick=False):
        yield


def test_the_partner_admin_sees_the_warning_with_the_date_and_the_fix(
    client, partner_admin, at_risk, on_the_day
):
    client.force_login(partner_admin)
    text = _text(client.get(reverse("portal:dashboard")))
    assert "Your Silver tier in Partner Network is at risk" in text
    assert "on 21 March 2026" in text
    assert "1 certification expires on 20 March 2026: Ana Silva. Renew it before then" in text
    # Silver's 90 days of grace keep the tier after its gate fails.
    assert "You would keep Silver until 19 June 2026 and lose it on 20 June 2026" in text


def test_an_override_ending_before_the_grace_would_is_told_with_its_end(
    client, partner_admin, at_risk, on_the_day
):
    GateForecast.objects.filter(pk=at_risk.pk).update(
        override_until=datetime.date(2026, 4, 30), tier_lost_on=datetime.date(2026, 5, 1)
    )
    client.force_login(partner_admin)
    text = _text(client.get(reverse("portal:dashboard")))
    assert "An override holds the tier until 30 April 2026." in text
    assert "You would keep Silver until 30 April 2026 and lose it on 1 May 2026" in text


def test_another_partner_user_sees_the_warning_but_not_a_colleagues_certification(
    client, partner_sales, at_risk, on_the_day
):
    client.force_login(partner_sales)
    text = _text(client.get(reverse("portal:dashboard")))
    assert "Your Silver tier in Partner Network is at risk" in text
    assert "Ana Silva" not in text
    team = _text(client.get(reverse("portal:team")))
    assert "Who must renew" not in team


def test_the_team_page_says_who_must_renew(client, partner_admin, at_risk, on_the_day):
    client.force_login(partner_admin)
    text = _text(client.get(reverse("portal:team")))
    assert "Who must renew" in text
    assert (
        "Ana Silva : Sales Engineer expires on 20 March 2026; your Silver tier (the gate “Silver gate”)"
        in text
    )
    assert "renew before 20 Mar 2026" in text


def test_another_partner_sees_nothing_of_it(client, other_partner_admin, at_risk, on_the_day):
    client.force_login(other_partner_admin)
    text = _text(client.get(reverse("portal:dashboard")))
    assert "at risk" not in text
    assert "Ana Silva" not in text


def test_the_manager_sees_the_partners_at_risk_this_month_by_tier(
    client, channel_manager, partner, other_partner, at_risk, on_the_day
):
    # Globex is outside Morgan's region: its forecast never shows.
    GateForecast.objects.create(
        partner=other_partner,
        gate=at_risk.gate,
        at_risk=True,
        fails_on=datetime.date(2026, 3, 10),
        shortfall="1 more person holding a valid certification",
        as_of=TODAY,
    )
    client.force_login(channel_manager)
    response = client.get(reverse("portal:manager"))
    text = _text(response)
    assert "At risk this month 1" in text
    assert "Silver (Partner Network) 1 partner" in text
    assert "Acme : “Silver gate” on 21 Mar, Silver lost on 20 Jun after grace" in text
    assert "Globex" not in text


def test_the_manager_sees_a_grace_ending_this_month_with_the_day_the_tier_goes(
    client, channel_manager, at_risk, on_the_day
):
    GateForecast.objects.filter(pk=at_risk.pk).update(
        at_risk=False,
        fails_on=None,
        grace_until=datetime.date(2026, 3, 25),
        tier_lost_on=datetime.date(2026, 3, 26),
    )
    client.force_login(channel_manager)
    text = _text(client.get(reverse("portal:manager")))
    assert "At risk this month 1" in text
    assert "Acme : in grace until 25 Mar “Silver gate” no longer met, Silver lost on 26 Mar" in text


def test_a_forecast_after_this_month_is_not_in_this_months_list(client, channel_manager, at_risk, on_the_day):
    GateForecast.objects.filter(pk=at_risk.pk).update(fails_on=datetime.date(2026, 4, 2))
    client.force_login(channel_manager)
    text = _text(client.get(reverse("portal:manager")))
    assert "At risk this month 0" in text
