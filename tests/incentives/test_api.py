"""The incentives API: rules validated like the admin, statements and entries scoped to the caller."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import TokenScope
from api.services import token_issue
from incentives import services
from incentives.models import CustomerActivation, IncentiveRule, LedgerEntry, RuleKind
from incentives.periods import quarter_of
from tests.factories import PartnerFactory
from tests.incentives.helpers import commission_rule, margin_rule, won_deal

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
QUARTER = quarter_of(TODAY).code
RULES = "/api/v1/incentive-rules/"
STATEMENTS = "/api/v1/incentive-statements/"
ENTRIES = "/api/v1/ledger-entries/"
ACTIVATIONS = "/api/v1/incentive-activations/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    from django.core.cache import cache

    cache.clear()


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def rule_body(program, **values) -> dict:
    body = {
        "name": "Margins",
        "kind": RuleKind.MARGIN,
        "program": program.pk,
        "currency": "USD",
        "effective_from": str(TODAY),
    }
    body.update(values)
    return body


@pytest.fixture
def earned(partner, other_partner, program, cloud):
    commission_rule(program, effective_from=datetime.date(2020, 1, 1))
    deals = [won_deal(who, "1000.00", closed_on=TODAY, line=cloud) for who in (partner, other_partner)]
    services.calculate()
    return deals


class TestRules:
    def test_a_manager_creates_a_rule_with_its_rates(self, channel_manager, program, tiers):
        body = rule_body(
            program,
            margin_rates=[
                {"tier": tiers["Silver"].pk, "percent": "10"},
                {"tier": tiers["Gold"].pk, "percent": "15"},
            ],
        )

        response = api(channel_manager).post(RULES, body, format="json")

        assert response.status_code == 201, response.json()
        rule = IncentiveRule.objects.get()
        assert rule.created_by == channel_manager
        assert sorted(rate["percent"] for rate in response.json()["margin_rates"]) == ["10.000", "15.000"]

    @pytest.mark.parametrize(
        ("values", "field", "message"),
        [
            (
                {
                    "kind": "rebate",
                    "rebate_period": "quarter",
                    "rebate_bands": [
                        {"lower_bound": "0", "upper_bound": "150000", "percent": "1"},
                        {"lower_bound": "100000", "percent": "2"},
                    ],
                },
                "rebate_bands",
                "The bands 0–150,000 and 100,000 and above overlap: a band must start at or above the upper bound of the band before it.",
            ),
            (
                {"margin_rates": [{"tier": "GOLD", "percent": "120"}]},
                "margin_rates",
                "The margin cannot be above 100 %: 120 % was given.",
            ),
            (
                {"kind": "spif", "spif_trigger": "deal", "spif_amount": "-100", "effective_to": "2099-12-31"},
                "spif_amount",
                "The bonus cannot be negative: -100 was given.",
            ),
            (
                {"currency": "", "margin_rates": [{"tier": "GOLD", "percent": "10"}]},
                "currency",
                "Choose the currency this rule pays in: every amount it produces is in that currency.",
            ),
            ({}, "margin_rates", "Give at least one of the margin rates this rule pays."),
            (
                {"margin_rates": [{"tier": "GOLD", "percent": "10"}, {"tier": "GOLD", "percent": "12"}]},
                "margin_rates",
                "has two rates: keep one.",
            ),
        ],
    )
    def test_mistakes_are_refused_with_a_clear_message(
        self, channel_manager, program, tiers, values, field, message
    ):
        for rate in values.get("margin_rates", []):
            rate["tier"] = tiers["Gold"].pk
        body = rule_body(program, **values)
        if "currency" in values and not values["currency"]:
            body.pop("currency")

        response = api(channel_manager).post(RULES, body, format="json")

        assert response.status_code == 400
        errors = response.json()["errors"][field]
        assert any(message in error for error in errors), errors
        assert not IncentiveRule.objects.exists()

    def test_a_started_rule_keeps_its_terms_but_may_be_renamed(self, channel_manager, program, tiers):
        rule = margin_rule(program, {tiers["Gold"]: "15"}, effective_from=TODAY - datetime.timedelta(days=30))
        client = api(channel_manager)

        rates = client.patch(
            f"{RULES}{rule.pk}/",
            {"margin_rates": [{"tier": tiers["Gold"].pk, "percent": "20"}]},
            format="json",
        )
        currency = client.patch(f"{RULES}{rule.pk}/", {"currency": "EUR"}, format="json")
        same_rates = client.patch(
            f"{RULES}{rule.pk}/",
            {"name": "Gold margin", "margin_rates": [{"tier": tiers["Gold"].pk, "percent": "15.0"}]},
            format="json",
        )

        # The change is sound, the rule's state refuses it: a conflict, with the reason.
        assert rates.status_code == 409 and rates.json()["code"] == "conflict"
        assert rates.json()["errors"]["margin_rates"][0].startswith(
            "This rule has started or already earned money"
        )
        assert (
            currency.status_code == 409
            and "terms (currency)" in currency.json()["errors"]["non_field_errors"][0]
        )
        assert same_rates.status_code == 200 and same_rates.json()["name"] == "Gold margin"
        assert list(rule.margin_rates.values_list("percent", flat=True)) == [Decimal("15.000")]

    def test_a_new_version_through_the_api(self, channel_manager, program, tiers):
        rule = margin_rule(program, {tiers["Gold"]: "15"}, effective_from=TODAY - datetime.timedelta(days=30))
        response = api(channel_manager).post(
            f"{RULES}{rule.pk}/new-version/",
            {"effective_from": str(TODAY + datetime.timedelta(days=1))},
            format="json",
        )
        assert response.status_code == 201
        assert (
            response.json()["supersedes"] == rule.pk
            and response.json()["margin_rates"][0]["percent"] == "15.000"
        )
        past = api(channel_manager).post(
            f"{RULES}{rule.pk}/new-version/", {"effective_from": "2020-01-01"}, format="json"
        )
        assert past.status_code == 400 and "effective_from" in past.json()["errors"]

    def test_partners_neither_see_nor_write_rules(self, partner_admin, program, tiers):
        margin_rule(program, {tiers["Gold"]: "15"})
        client = api(partner_admin)
        assert client.get(RULES).json()["results"] == []
        assert (
            client.post(
                RULES,
                rule_body(program, margin_rates=[{"tier": tiers["Gold"].pk, "percent": "1"}]),
                format="json",
            ).status_code
            == 403
        )
        assert api().get(RULES).status_code in (401, 403)


class TestStatements:
    def test_a_partner_reads_its_own_statement(
        self, partner_admin, partner, earned, django_assert_max_num_queries
    ):
        client = api(partner_admin)
        # session, user, membership; the partner; lines; balances; held parts; months; rewards; periods
        with django_assert_max_num_queries(10):
            response = client.get(f"{STATEMENTS}{partner.pk}/", {"period": QUARTER})

        body = response.json()
        assert response.status_code == 200
        assert (body["partner"], body["period"], body["totals"]) == (partner.pk, QUARTER, {"USD": "200.00"})
        assert [line["amount"] for line in body["lines"]] == ["200.0000"]
        assert body["by_rule"][0]["kind"] == "commission"
        assert body["balances"] == {"USD": {"accrued": "200.00"}}

    def test_another_organisations_statement_is_not_found(self, partner_admin, other_partner, earned):
        response = api(partner_admin).get(f"{STATEMENTS}{other_partner.pk}/")
        assert response.status_code == 404

    def test_a_bad_period_is_refused_clearly(self, partner_admin, partner):
        response = api(partner_admin).get(f"{STATEMENTS}{partner.pk}/", {"period": "2025-Q7"})
        assert response.status_code == 400
        assert response.json()["errors"]["period"] == [
            "'2025-Q7' is not a period: give a quarter such as 2025-Q1 or a year such as 2025."
        ]

    def test_a_distributor_lists_the_partners_it_serves(
        self, distributor_user, partner, earned, django_assert_max_num_queries
    ):
        for number in range(5):
            PartnerFactory(name=f"Served {number}", distributor=partner.distributor)
        client = api(distributor_user)
        # session, user, membership; count and page of partners; period totals; payable totals
        with django_assert_max_num_queries(7):
            response = client.get(STATEMENTS, {"period": QUARTER})

        rows = response.json()["results"]
        assert response.status_code == 200 and len(rows) == 6
        assert {row["partner_name"] for row in rows} >= {"Acme"} and "Globex" not in {
            row["partner_name"] for row in rows
        }
        assert next(row for row in rows if row["partner_name"] == "Acme")["totals"] == {"USD": "200.00"}


class TestLedgerEntries:
    def test_each_caller_sees_only_its_partners_entries(
        self, partner_admin, other_partner_admin, superuser, partner, earned
    ):
        assert {entry["partner"] for entry in api(partner_admin).get(ENTRIES).json()["results"]} == {
            partner.pk
        }
        assert len(api(superuser).get(ENTRIES).json()["results"]) == 2
        theirs = LedgerEntry.objects.get(partner=earned[1].partner)
        assert api(partner_admin).get(f"{ENTRIES}{theirs.pk}/").status_code == 404

    def test_a_token_for_one_partner_sees_its_entries_only(self, superuser, partner, earned):
        _, secret = token_issue(actor=superuser, name="Billing", scope=TokenScope.READ, partners=[partner])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        rows = client.get(ENTRIES, {"period": QUARTER}).json()["results"]
        assert [row["partner"] for row in rows] == [partner.pk]
        assert client.get(f"{STATEMENTS}{earned[1].partner_id}/").status_code == 404


class TestActivations:
    def test_a_manager_records_an_activation_of_a_visible_won_deal(
        self, channel_manager, partner, other_partner, program, cloud
    ):
        ours = won_deal(partner, closed_on=TODAY - datetime.timedelta(days=3), line=cloud)
        theirs = won_deal(other_partner, closed_on=TODAY - datetime.timedelta(days=3), line=cloud)
        client = api(channel_manager)

        created = client.post(
            ACTIVATIONS, {"deal": ours.pk, "activated_on": str(TODAY), "metric": "50 seats"}, format="json"
        )
        hidden = client.post(ACTIVATIONS, {"deal": theirs.pk, "activated_on": str(TODAY)}, format="json")
        early = client.post(
            ACTIVATIONS,
            {"deal": ours.pk, "activated_on": str(TODAY - datetime.timedelta(days=10))},
            format="json",
        )

        assert created.status_code == 201 and CustomerActivation.objects.get().metric == "50 seats"
        assert hidden.status_code == 400 and "deal" in hidden.json()["errors"]
        assert early.status_code == 400
        assert early.json()["errors"]["activated_on"][0].startswith(
            "The customer cannot activate before the deal closed"
        )

    def test_partners_cannot_record_activations(self, partner_admin, partner, cloud):
        deal = won_deal(partner, closed_on=TODAY, line=cloud)
        response = api(partner_admin).post(
            ACTIVATIONS, {"deal": deal.pk, "activated_on": str(TODAY)}, format="json"
        )
        assert response.status_code == 403 and not CustomerActivation.objects.exists()
