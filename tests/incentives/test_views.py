"""Portal statements: each organisation sees only its own (distributors: the partners they serve)."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from incentives import services
from incentives.models import LedgerEntry, Redemption, Reward
from incentives.periods import quarter_of
from tests.factories import EngagementActivityFactory, PartnerFactory
from tests.incentives.helpers import commission_rule, points_rule, won_deal

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
QUARTER = quarter_of(TODAY)


def statement_url(partner, period=QUARTER.code) -> str:
    return reverse("incentives:statement", args=[getattr(partner, "pk", partner), period])


def earn(partner, count: int, line, *, customer="Woodgrove"):
    """``count`` won deals this quarter for ``partner``, calculated."""
    deals = [
        won_deal(partner, "1000.00", closed_on=QUARTER.start, line=line, customer=f"{customer} {number}")
        for number in range(count)
    ]
    services.calculate(scope=services.Scope(deal_ids=frozenset(deal.pk for deal in deals)))
    return deals


@pytest.fixture
def rules(program):
    commission_rule(program, name="Self-sufficiency commission", effective_from=datetime.date(2020, 1, 1))
    return points_rule(
        program,
        multiplier="2",
        rewards=[("Training voucher", 40, "150.00")],
        effective_from=datetime.date(2020, 1, 1),
    )


def test_a_partner_user_lands_on_its_own_statement(client, partner_admin, partner):
    client.force_login(partner_admin)
    response = client.get(reverse("incentives:index"))
    assert response.status_code == 302 and response["Location"] == statement_url(partner)


def test_the_statement_shows_tables_figures_and_a_chart(client, partner_admin, partner, rules, cloud):
    earn(partner, 2, cloud)
    client.force_login(partner_admin)

    response = client.get(statement_url(partner))

    body = response.content.decode()
    assert response.status_code == 200
    assert f"Acme: incentive statement, {QUARTER.label()}" in body
    assert "Self-sufficiency commission" in body and "400.00 USD" in body
    assert body.count("<svg") == 1 and 'role="img"' in body and "<script" not in body.split("</header>")[1]
    assert "earnings in USD by month" in body
    assert 'aria-current="page">Incentives</a>' in body  # the portal's navigation links here


def test_the_statement_query_count_stays_flat_as_entries_grow(
    client, partner_admin, partner, rules, cloud, django_assert_max_num_queries
):
    client.force_login(partner_admin)
    earn(partner, 2, cloud)
    # session, user, membership; the partner (visible_to); lines with rule, tier and deal; balances by
    # currency and state; held parts awaiting activation; monthly totals; rewards; periods with entries;
    # the header's unread count
    with django_assert_max_num_queries(11):
        small = client.get(statement_url(partner))
    earn(partner, 30, cloud, customer="More")
    with django_assert_max_num_queries(11):
        large = client.get(statement_url(partner))
    assert small.status_code == large.status_code == 200
    assert large.content.decode().count("<tr>") > small.content.decode().count("<tr>") + 25


def test_another_organisations_statement_is_not_found(
    client, partner_admin, partner, other_partner, rules, cloud
):
    earn(other_partner, 1, cloud)
    client.force_login(partner_admin)
    for url in (
        statement_url(other_partner),
        reverse("incentives:statement_csv", args=[other_partner.pk, QUARTER.code]),
        statement_url(PartnerFactory(name="Initech", distributor=None)),
        statement_url(99999999),
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(reverse("incentives:redeem", args=[other_partner.pk]), {"reward": 1}).status_code == 404
    )


def test_a_distributor_sees_the_partners_it_serves_and_nothing_else(
    client, distributor_user, partner, other_partner, rules, cloud, django_assert_max_num_queries
):
    earn(partner, 1, cloud)
    earn(other_partner, 1, cloud)
    client.force_login(distributor_user)

    # session, user, membership; count and page of partners; period totals; payable totals; the
    # header's unread count
    with django_assert_max_num_queries(8):
        index = client.get(reverse("incentives:index"))

    body = index.content.decode()
    assert "Acme" in body and "Globex" not in body and "200.00 USD" in body
    assert client.get(statement_url(partner)).status_code == 200
    assert client.get(statement_url(other_partner)).status_code == 404


def test_a_channel_manager_sees_the_partners_of_the_regions_covered(
    client, channel_manager, partner, other_partner
):
    client.force_login(channel_manager)
    assert client.get(statement_url(partner)).status_code == 200
    assert client.get(statement_url(other_partner)).status_code == 404  # North America, not covered


def test_a_period_that_does_not_exist_is_not_found(client, partner_admin, partner):
    client.force_login(partner_admin)
    for period in ("2025-Q5", "1999-Q1", "soon", "2025-q1x"):
        assert client.get(statement_url(partner, period)).status_code == 404


def test_a_yearly_statement_adds_up_its_quarters(client, partner_admin, partner, rules, cloud):
    earn(partner, 1, cloud)
    client.force_login(partner_admin)
    response = client.get(statement_url(partner, str(TODAY.year)))
    assert response.status_code == 200 and "200.00 USD" in response.content.decode()


def test_the_csv_lists_every_entry_and_defuses_formulas(client, partner_admin, partner, rules, cloud):
    earn(partner, 1, cloud, customer="=HYPERLINK(evil)")
    client.force_login(partner_admin)

    response = client.get(reverse("incentives:statement_csv", args=[partner.pk, QUARTER.code]))

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'filename="incentives-{partner.pk}-{QUARTER.code}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["amount"], row["currency"], row["state"], row["kind"]) == (
        "200.0000",
        "USD",
        "accrued",
        "commission",
    )
    assert row["description"].startswith("'=HYPERLINK")


def test_a_partner_admin_redeems_points_from_the_statement(client, partner_admin, partner, rules):
    EngagementActivityFactory(partner=partner, points=25, occurred_on=TODAY)
    services.calculate()
    reward = Reward.objects.get()
    client.force_login(partner_admin)

    page = client.get(statement_url(partner)).content.decode()
    assert "Training voucher" in page and "50 pts" in page
    # The button asks first: what it costs and what is left, and nothing is spent yet.
    asked = client.post(reverse("incentives:redeem", args=[partner.pk]), {"reward": reward.pk})
    assert asked.status_code == 200
    text = " ".join(asked.content.decode().split())
    assert "Redeem 40 pts for Training voucher?" in text
    assert "goes from 50 pts to <strong>10 pts</strong>" in text
    assert not Redemption.objects.exists()
    response = client.post(
        reverse("incentives:redeem", args=[partner.pk]), {"reward": reward.pk, "confirm": "yes"}, follow=True
    )

    assert (
        "Redeemed 40 points for Training voucher: 150.00 USD is on your statement."
        in response.content.decode()
    )
    assert Redemption.objects.get().partner == partner
    assert services.points_balance(partner.pk) == 10
    again = client.post(
        reverse("incentives:redeem", args=[partner.pk]), {"reward": reward.pk, "confirm": "yes"}, follow=True
    )
    assert "has 10 points; Training voucher needs 40." in again.content.decode()


@pytest.mark.parametrize("reward", ["abc", "1.5", "-1", "9" * 40, ""])
def test_a_reward_id_that_does_not_parse_answers_404(client, partner_admin, partner, rules, reward):
    client.force_login(partner_admin)

    response = client.post(reverse("incentives:redeem", args=[partner.pk]), {"reward": reward})

    assert response.status_code == 404
    assert not Redemption.objects.exists()


def test_partner_users_who_are_not_admins_cannot_redeem(client, partner_sales, partner, rules):
    EngagementActivityFactory(partner=partner, points=25, occurred_on=TODAY)
    services.calculate()
    client.force_login(partner_sales)
    response = client.post(
        reverse("incentives:redeem", args=[partner.pk]), {"reward": Reward.objects.get().pk}, follow=True
    )
    assert "Only your organisation&#x27;s admins can redeem its points." in response.content.decode()
    assert not Redemption.objects.exists()
    assert client.get(reverse("incentives:redeem", args=[partner.pk])).status_code == 405


def test_program_cost_against_budget_for_staff_only(
    client, superuser, partner_admin, partner, program, cloud, django_assert_max_num_queries
):
    commission_rule(
        program,
        name="Commission",
        budget=Decimal("300"),
        budget_period="quarter",
        effective_from=datetime.date(2020, 1, 1),
    )
    earn(partner, 2, cloud)
    client.force_login(superuser)

    # session, user, membership; totals by rule, tier and quarter; lifetime totals by rule; the rules;
    # the first entry's date (for the year list); the tiers of the rules' programs; the header's
    # unread count
    with django_assert_max_num_queries(9):
        response = client.get(reverse("incentives:program_cost"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Commission" in body and "Self-sufficiency commission · USD" in body
    assert "<strong>400.00</strong>" in body and "300.00<br>" in body
    assert "133 % over budget" in body
    assert body.count("<svg") == 1
    assert client.get(reverse("incentives:program_cost") + "?year=abc").status_code == 404
    client.force_login(partner_admin)
    assert client.get(reverse("incentives:program_cost")).status_code == 404


def test_program_cost_by_tier_lists_every_tier_in_rank_order_and_nets_reversals(
    client, superuser, partner, program, tiers, cloud
):
    from deals.models import DealStatus
    from incentives.models import EntryType
    from tests.incentives.helpers import margin_rule, set_tier

    margin_rule(
        program, {tiers["Silver"]: "10", tiers["Gold"]: "15"}, effective_from=datetime.date(2020, 1, 1)
    )
    set_tier(partner, tiers["Silver"], datetime.date(2020, 1, 1))
    _, cancelled = earn(partner, 2, cloud)  # 100.00 each at Silver
    cancelled.status = DealStatus.LOST
    cancelled.save()
    services.calculate(scope=services.Scope(deal_ids=frozenset([cancelled.pk])))
    assert LedgerEntry.objects.filter(entry_type=EntryType.REVERSAL).count() == 1
    # A partner without a tier earns points, which count as earned with no tier held.
    points_rule(program, multiplier="2", effective_from=datetime.date(2020, 1, 1))
    untiered = PartnerFactory(name="Newcomer")
    EngagementActivityFactory(partner=untiered, points=10, occurred_on=QUARTER.start)
    services.calculate(scope=services.Scope(partner_ids=frozenset([untiered.pk])))
    client.force_login(superuser)

    response = client.get(reverse("incentives:program_cost"))

    rows = [(row.label, dict(row.cells)) for row in response.context["cost"].by_tier]
    assert [label for label, _ in rows] == ["Platinum", "Gold", "Silver", "Registered", "No tier held"]
    assert rows[0][1] == {"USD": Decimal("0.00"), "PTS": Decimal("0")}
    assert rows[2][1] == {"USD": Decimal("100.00"), "PTS": Decimal("0")}
    assert rows[4][1] == {"USD": Decimal("0.00"), "PTS": Decimal("20")}
    body = response.content.decode()
    assert "a reversal counts under the tier of the earning it cancels" in body


def test_an_old_reversal_without_a_tier_counts_under_the_tier_it_reverses(
    client, superuser, partner, program, tiers, cloud
):
    """Reversals written before they carried a tier: the entry is immutable, the read attributes it."""
    from incentives.models import EntryState, EntryType
    from tests.incentives.helpers import margin_rule, set_tier

    margin_rule(program, {tiers["Gold"]: "15"}, effective_from=datetime.date(2020, 1, 1))
    set_tier(partner, tiers["Gold"], datetime.date(2020, 1, 1))
    earn(partner, 1, cloud)
    earning = LedgerEntry.objects.get()
    LedgerEntry.objects.create(
        partner=partner,
        rule=earning.rule,
        source_type=earning.source_type,
        source_id=earning.source_id,
        component=earning.component,
        revision=1,
        entry_type=EntryType.REVERSAL,
        reverses=earning,
        amount=-earning.amount,
        currency="USD",
        event_on=earning.event_on,
        period=earning.period,
        tier=None,
        state=EntryState.REVERSED,
    )
    client.force_login(superuser)

    rows = {
        row.label: dict(row.cells)
        for row in client.get(reverse("incentives:program_cost")).context["cost"].by_tier
    }

    assert rows["Gold"] == {"USD": Decimal("0.00")}
    assert rows["No tier held"] == {"USD": Decimal("0.00")}


def test_a_login_without_an_organisation_sees_nothing(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("incentives:index")).status_code == 404
    assert LedgerEntry.objects.count() == 0
