"""The rules admin refuses mistakes next to the field; the ledger admin only shows."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from incentives import services
from incentives.models import (
    CustomerActivation,
    IncentivePeriod,
    IncentiveRule,
    LedgerEntry,
    Payout,
    RuleKind,
)
from tests.incentives.helpers import commission_rule, margin_rule, won_deal

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
ADD = reverse("admin:incentives_incentiverule_add")
INLINES = ("margin_rates", "commission_rates", "rebate_bands", "rewards")


def rule_form(program, **values) -> dict:
    data = {
        "name": "Rule",
        "description": "",
        "kind": RuleKind.REBATE,
        "program": program.pk,
        "currency": "USD",
        "effective_from": str(TODAY),
        "effective_to": "",
        "budget_period": "lifetime",
        "paid_on_signing_percent": "100",
        "band_method": "marginal",
        "rebate_period": "quarter",
    }
    for prefix in INLINES:
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(values)
    return data


def rows(prefix: str, items: list[dict]) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(items)), f"{prefix}-INITIAL_FORMS": "0"}
    for index, item in enumerate(items):
        data.update({f"{prefix}-{index}-{key}": value for key, value in item.items()})
    return data


@pytest.fixture
def manager_client(client, channel_manager):
    client.force_login(channel_manager)
    return client


def test_overlapping_bands_are_refused_with_a_clear_message(manager_client, program):
    bands = [
        {"lower_bound": "0", "upper_bound": "150000", "percent": "1"},
        {"lower_bound": "100000", "upper_bound": "", "percent": "2"},
    ]

    response = manager_client.post(ADD, rule_form(program, **rows("rebate_bands", bands)))

    assert response.status_code == 200
    assert "The bands 0–150,000 and 100,000 and above overlap" in response.content.decode()
    assert not IncentiveRule.objects.exists()


def test_a_rate_above_100_percent_is_refused(manager_client, program, tiers):
    data = rule_form(
        program,
        kind=RuleKind.MARGIN,
        rebate_period="",
        **rows("margin_rates", [{"tier": tiers["Gold"].pk, "percent": "120"}]),
    )

    response = manager_client.post(ADD, data)

    assert "The margin cannot be above 100 %: 120 % was given." in response.content.decode()
    assert not IncentiveRule.objects.exists()


def test_a_negative_amount_and_a_missing_currency_are_refused(manager_client, program):
    data = rule_form(
        program,
        kind=RuleKind.SPIF,
        rebate_period="",
        currency="",
        spif_trigger="deal",
        spif_amount="-100",
        budget="-5",
        effective_to=str(TODAY + datetime.timedelta(days=30)),
    )

    body = manager_client.post(ADD, data).content.decode()

    assert "The bonus cannot be negative: -100 was given." in body
    assert "The budget cannot be negative: -5 was given." in body
    assert "Choose the currency this rule pays in: every amount it produces is in that currency." in body
    assert not IncentiveRule.objects.exists()


def test_rows_a_kind_does_not_use_are_refused_and_those_it_needs_required(manager_client, program, tiers):
    data = rule_form(program, **rows("margin_rates", [{"tier": tiers["Gold"].pk, "percent": "10"}]))
    body = manager_client.post(ADD, data).content.decode()
    assert "A volume rebate has no margin rates: remove them." in body
    assert "Give at least one of the volume bands this rule pays." in body


def test_a_valid_rule_is_created_with_its_rates_and_audited(manager_client, channel_manager, program, tiers):
    data = rule_form(
        program,
        kind=RuleKind.MARGIN,
        rebate_period="",
        name="Tier margins",
        **rows(
            "margin_rates",
            [{"tier": tiers["Silver"].pk, "percent": "10"}, {"tier": tiers["Gold"].pk, "percent": "15"}],
        ),
    )

    response = manager_client.post(ADD, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    rule = IncentiveRule.objects.get()
    assert rule.created_by == channel_manager
    assert sorted(rule.margin_rates.values_list("percent", flat=True)) == [Decimal(10), Decimal(15)]
    assert AuditEntry.objects.filter(action="incentives.rule_created", target_id=str(rule.pk)).exists()


def test_a_started_rule_shows_its_terms_read_only_and_offers_a_new_version(manager_client, program, tiers):
    rule = margin_rule(program, {tiers["Gold"]: "15"}, effective_from=TODAY - datetime.timedelta(days=30))
    change = reverse("admin:incentives_incentiverule_change", args=[rule.pk])

    page = manager_client.get(change).content.decode()
    assert 'name="currency"' not in page and 'name="margin_rates-0-percent"' not in page
    assert "Change the terms from a date on (new version)" in page

    new_version = reverse("admin:incentives_incentiverule_new_version", args=[rule.pk])
    refused = manager_client.post(new_version, {"effective_from": str(TODAY - datetime.timedelta(days=1))})
    assert "A new version starts today or later: the past stays as it was paid." in refused.content.decode()

    response = manager_client.post(new_version, {"effective_from": str(TODAY + datetime.timedelta(days=7))})
    copy = IncentiveRule.objects.exclude(pk=rule.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:incentives_incentiverule_change", args=[copy.pk]
    )
    rule.refresh_from_db()
    assert rule.effective_to == TODAY + datetime.timedelta(days=6)
    assert list(copy.margin_rates.values_list("tier", "percent")) == [(tiers["Gold"].pk, Decimal("15.000"))]
    assert 'name="margin_rates-0-percent"' in manager_client.get(response["Location"]).content.decode()


def test_the_ledger_is_read_only_and_scoped_to_the_managers_partners(
    manager_client, partner, other_partner, program, cloud
):
    commission_rule(program)
    for who in (partner, other_partner):
        services.calculate_deal(deal_id=won_deal(who, closed_on=TODAY, line=cloud).pk)
    ours = LedgerEntry.objects.get(partner=partner)
    theirs = LedgerEntry.objects.get(partner=other_partner)

    listing = manager_client.get(reverse("admin:incentives_ledgerentry_changelist")).content.decode()
    assert "Acme" in listing and "Globex" not in listing
    assert (
        manager_client.get(reverse("admin:incentives_ledgerentry_change", args=[theirs.pk])).status_code
        == 302
    )
    page = manager_client.get(reverse("admin:incentives_ledgerentry_change", args=[ours.pk]))
    assert page.status_code == 200 and 'name="amount"' not in page.content.decode()
    assert manager_client.get(reverse("admin:incentives_ledgerentry_add")).status_code == 403
    assert (
        manager_client.post(
            reverse("admin:incentives_ledgerentry_delete", args=[ours.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert LedgerEntry.objects.count() == 2


def test_a_quarter_is_closed_from_the_admin(manager_client, partner, program, cloud):
    commission_rule(program, effective_from=datetime.date(2020, 1, 1))
    last_quarter_day = datetime.date(TODAY.year, 3 * ((TODAY.month - 1) // 3) + 1, 1) - datetime.timedelta(
        days=1
    )
    won_deal(partner, closed_on=last_quarter_day, line=cloud)
    code = f"{last_quarter_day.year}-Q{(last_quarter_day.month - 1) // 3 + 1}"
    url = reverse("admin:incentives_incentiveperiod_add")

    assert "is not a period" in manager_client.post(url, {"code": "last quarter"}).content.decode()
    response = manager_client.post(url, {"code": code})

    assert response.status_code == 302
    assert IncentivePeriod.objects.get(code=code).is_closed
    assert list(LedgerEntry.objects.values_list("state", flat=True)) == ["payable"]


def test_an_activation_before_the_close_date_is_refused(manager_client, partner, program, cloud):
    deal = won_deal(partner, closed_on=TODAY - datetime.timedelta(days=5), line=cloud)
    url = reverse("admin:incentives_customeractivation_add")

    early = manager_client.post(
        url, {"deal": deal.pk, "activated_on": str(TODAY - datetime.timedelta(days=6)), "metric": "50 seats"}
    )
    assert "The customer cannot activate before the deal closed on" in early.content.decode()

    response = manager_client.post(url, {"deal": deal.pk, "activated_on": str(TODAY), "metric": "50 seats"})
    assert response.status_code == 302
    assert CustomerActivation.objects.get().activated_on == TODAY


def test_a_payout_with_nothing_payable_is_refused(manager_client, partner):
    response = manager_client.post(
        reverse("admin:incentives_payout_add"),
        {"partner": partner.pk, "currency": "USD", "reference": "PAY-1", "paid_on": str(TODAY)},
    )
    assert "Nothing is payable to Acme in USD." in response.content.decode()
    assert not Payout.objects.exists()


def test_activations_and_ledger_history_have_readable_names(partner):
    from incentives.models import LedgerTransition

    deal = won_deal(partner, customer="Woodgrove Bank")
    activation = CustomerActivation.objects.create(deal=deal, activated_on=datetime.date(2025, 3, 31))
    assert str(activation) == f"Woodgrove Bank ({deal.reference}) activated on 31 March 2025"
    transition = LedgerTransition(from_state="accrued", to_state="payable", at=timezone.now())
    assert str(transition).startswith("Accrued → Payable on ")


def test_an_admin_save_goes_through_the_rule_service(
    manager_client, channel_manager, program, tiers, monkeypatch
):
    calls = []
    original = services.rule_save

    def spy(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(services, "rule_save", spy)
    data = rule_form(
        program,
        kind=RuleKind.MARGIN,
        rebate_period="",
        **rows("margin_rates", [{"tier": tiers["Silver"].pk, "percent": "10"}]),
    )

    response = manager_client.post(ADD, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    (call,) = calls
    assert (call["actor"], call["created"]) == (channel_manager, True)
    assert [row["percent"] for row in call["margin_rates"]] == [Decimal(10)]
    assert "rebate_bands" not in call  # an inline left empty leaves its rows alone


def test_an_admin_change_of_a_rule_is_in_its_history_with_before_and_after(manager_client, program, tiers):
    from history.selectors import object_history

    manager_client.post(
        ADD,
        rule_form(
            program,
            kind=RuleKind.MARGIN,
            rebate_period="",
            effective_from=str(TODAY + datetime.timedelta(days=10)),
            **rows("margin_rates", [{"tier": tiers["Silver"].pk, "percent": "10"}]),
        ),
    )
    rule = IncentiveRule.objects.get()
    rate = rule.margin_rates.get()
    change = reverse("admin:incentives_incentiverule_change", args=[rule.pk])
    data = rule_form(
        program,
        kind=RuleKind.MARGIN,
        rebate_period="",
        name="Renamed",
        effective_from=str(TODAY + datetime.timedelta(days=10)),
    )
    data.update(
        {
            "margin_rates-TOTAL_FORMS": "1",
            "margin_rates-INITIAL_FORMS": "1",
            "margin_rates-0-id": str(rate.pk),
            "margin_rates-0-rule": str(rule.pk),
            "margin_rates-0-tier": str(tiers["Silver"].pk),
            "margin_rates-0-percent": "12",
        }
    )

    response = manager_client.post(change, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    renamed = object_history(rule)[0]
    assert (renamed.before["name"], renamed.after["name"], renamed.door) == ("Rule", "Renamed", "admin")
    assert list(rule.margin_rates.values_list("percent", flat=True)) == [Decimal(12)]
