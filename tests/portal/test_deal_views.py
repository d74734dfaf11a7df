"""Deal registration through the portal's forms: errors next to fields, input kept, decisions, outcomes."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import Deal, DealStatus
from partners.models import Sale
from tests.deals.helpers import approved_deal, grant_deal_registration
from tests.factories import DealFactory, ExchangeRateFactory, ProductLineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entitled(partner):
    grant_deal_registration(partner)
    return partner


def _form(**overrides) -> dict:
    data = {
        "customer_name": "Woodgrove Bank",
        "customer_domain": "https://www.woodgrove.example/contact",
        "country": "GB",
        "products": [ProductLineFactory(code="cloud").pk],
        "expected_value": "125000.00",
        "currency": "GBP",
        "expected_close": (timezone.localdate() + datetime.timedelta(days=40)).isoformat(),
        "description": "Migration of the core banking platform.",
        "sourced_by": "vendor",
    }
    data.update(overrides)
    return data


def test_registering_a_deal(client, entitled, partner_admin):
    client.force_login(partner_admin)
    response = client.post(reverse("portal:deal_register"), _form())
    deal = Deal.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "portal:deal_detail", args=[deal.pk]
    )
    assert (deal.customer_domain, deal.status, deal.partner) == (
        "woodgrove.example",
        DealStatus.SUBMITTED,
        entitled,
    )
    page = client.get(response["Location"]).content.decode()
    assert f"{deal.reference} is registered and awaits approval." in page


def test_invalid_input_is_answered_next_to_each_field_and_kept(client, entitled, partner_admin):
    client.force_login(partner_admin)
    response = client.post(
        reverse("portal:deal_register"),
        _form(
            customer_name="Keep Me Ltd",
            customer_domain="not a domain",
            expected_value="-5",
            currency="XYZ",
            expected_close="2001-01-01",
            products=[],
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    form = response.context["form"]
    assert set(form.errors) == {"customer_domain", "expected_value", "currency", "expected_close", "products"}
    assert 'value="Keep Me Ltd"' in html and 'value="not a domain"' in html
    assert "Choose at least one product line." in html
    assert 'id="id_customer_domain_errors"' in html and 'aria-invalid="true"' in html
    assert "Please correct the errors below." in html
    # The summary links to each field in error (the first box of a list of boxes), in the form's order.
    summary = html[html.index("data-error-summary") : html.index("</div>", html.index("data-error-summary"))]
    links = [
        summary.index(f'href="#{target}"')
        for target in (
            "id_customer_domain",
            "id_products_0",
            "id_expected_value",
            "id_currency",
            "id_expected_close",
        )
    ]
    assert links == sorted(links)
    assert 'id="id_products_0"' in html
    assert not Deal.objects.exists()


def test_a_domain_the_form_accepts_but_the_service_refuses_is_shown_at_the_field(
    client, entitled, partner_admin
):
    client.force_login(partner_admin)
    response = client.post(reverse("portal:deal_register"), _form(customer_domain="localhost"))
    assert response.status_code == 400
    assert response.context["form"].errors["customer_domain"] == [
        "Give the customer's web domain, such as example.com."
    ]


def test_a_second_claim_on_the_same_customer_is_refused_at_the_field(client, entitled, partner_admin):
    first = DealFactory(partner=entitled, customer_domain="woodgrove.example")
    client.force_login(partner_admin)
    response = client.post(reverse("portal:deal_register"), _form())
    assert response.status_code == 400
    assert first.reference in response.context["form"].errors["customer_domain"][0]
    assert Deal.objects.count() == 1


def test_a_conflicting_registration_says_under_review_without_naming_anyone(
    client, entitled, partner_admin, other_partner
):
    DealFactory(
        partner=other_partner, customer_domain="woodgrove.example", customer_name="Woodgrove (Globex deal)"
    )
    client.force_login(partner_admin)
    response = client.post(reverse("portal:deal_register"), _form(), follow=True)
    html = response.content.decode()
    assert "is registered and under review" in html
    assert "Globex" not in html
    assert Deal.objects.get(partner=entitled).needs_review


def test_the_distributor_approves_from_its_queue_with_htmx(client, partner, distributor_user):
    deal = DealFactory(partner=partner)
    client.force_login(distributor_user)
    response = client.post(reverse("portal:deal_approve", args=[deal.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith(f'<tr id="deal-row-{deal.pk}">') and "approved: protected until" in html
    deal.refresh_from_db()
    assert deal.status == DealStatus.APPROVED and deal.decided_by == distributor_user
    again = client.post(reverse("portal:deal_approve", args=[deal.pk]), headers={"HX-Request": "true"})
    assert "approved: nothing to do" in again.content.decode()


def test_approving_in_place_brings_the_dashboards_counts_along(client, partner, distributor_user):
    first, second = DealFactory(partner=partner), DealFactory(partner=partner)
    DealFactory(partner=partner, needs_review=True)  # the vendor's to decide, never counted as waiting
    client.force_login(distributor_user)
    dashboard = client.get(reverse("portal:dashboard"))
    assert dashboard.context["waiting_count"] == 2
    assert [row.awaiting for row in dashboard.context["partners"]] == [2]

    response = client.post(
        reverse("portal:deal_approve", args=[first.pk]),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/portal/?page=1"},
    )

    html = response.content.decode()
    # The queue's count and the partners table are swapped out of band with fresh figures.
    assert '<span class="badge" id="waiting-count" hx-swap-oob="true">1</span>' in html
    assert '<div id="partners-served" hx-swap-oob="true">' in html
    assert [row.awaiting for row in response.context["partners"]] == [1]
    assert Deal.objects.get(pk=second.pk).status == DealStatus.SUBMITTED


def test_a_manager_approving_is_not_sent_the_distributors_counts(client, partner, channel_manager):
    deal = DealFactory(partner=partner)
    client.force_login(channel_manager)
    response = client.post(reverse("portal:deal_approve", args=[deal.pk]), headers={"HX-Request": "true"})
    assert "hx-swap-oob" not in response.content.decode()


def test_a_deal_under_review_has_one_name_for_every_role(
    client, partner, other_partner, partner_admin, distributor_user, channel_manager
):
    earlier = DealFactory(partner=other_partner, customer_domain="woodgrove.example")
    flagged = DealFactory(
        partner=partner,
        customer_name="Woodgrove",
        customer_domain="woodgrove.example",
        needs_review=True,
        conflicts_with=earlier,
    )
    details = {
        partner_admin: None,
        distributor_user: "the vendor decides",
        channel_manager: "conflicting claim",
    }
    for user, detail in details.items():
        client.force_login(user)
        for url in (reverse("portal:deals"), reverse("portal:deal_detail", args=[flagged.pk])):
            html = client.get(url).content.decode()
            badge = '<span class="badge status-submitted warn">Under review</span>'
            assert badge in html, (user.username, url)
            assert (
                ">Submitted</span>" not in html and ">conflict<" not in html and "with the vendor" not in html
            )
            if detail:
                assert detail in html, (user.username, url)
        # Partners and distributors never hear which claim conflicts.
        if user != channel_manager:
            assert "conflicting claim" not in client.get(reverse("portal:deals")).content.decode()


def test_approving_without_htmx_returns_to_the_deal(client, partner, channel_manager):
    deal = DealFactory(partner=partner)
    client.force_login(channel_manager)
    response = client.post(reverse("portal:deal_approve", args=[deal.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:deal_detail", args=[deal.pk])
    assert "approved: protected until" in response.content.decode()


def test_rejecting_asks_for_a_reason(client, partner, distributor_user, partner_admin):
    deal = DealFactory(partner=partner)
    client.force_login(distributor_user)
    url = reverse("portal:deal_reject", args=[deal.pk])
    assert 'name="reason"' in client.get(url).content.decode()
    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 400
    assert "Give the partner the reason for the rejection." in empty.content.decode()
    assert client.post(url, {"reason": "The customer is a named account."}).status_code == 302
    client.force_login(partner_admin)
    page = client.get(reverse("portal:deal_detail", args=[deal.pk])).content.decode()
    assert "Rejected" in page and "The customer is a named account." in page


def test_a_distributor_cannot_open_the_rejection_of_a_flagged_claim(client, partner, distributor_user):
    deal = DealFactory(partner=partner, needs_review=True)
    client.force_login(distributor_user)
    assert client.get(reverse("portal:deal_reject", args=[deal.pk])).status_code == 403
    assert client.post(reverse("portal:deal_reject", args=[deal.pk]), {"reason": "x"}).status_code == 403
    assert client.post(reverse("portal:deal_approve", args=[deal.pk])).status_code == 403
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.SUBMITTED


def test_marking_a_deal_won_records_the_sale(
    client, partner, partner_admin, django_capture_on_commit_callbacks
):
    ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2020, 1, 1))
    deal = approved_deal(partner, currency="EUR")
    client.force_login(partner_admin)
    url = reverse("portal:deal_won", args=[deal.pk])
    page = client.get(url).content.decode()
    assert "In EUR, the deal&#x27;s currency." in page
    data = {
        "amount": "48000.50",
        "closed_on": timezone.localdate().isoformat(),
        "product_line": deal.products.first().pk,
        "closed_by": "vendor",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302
    sale = Sale.objects.get(deal=deal)
    assert (str(sale.amount), sale.currency) == ("48000.5000", "EUR")
    deal.refresh_from_db()
    assert (deal.status, deal.closed_by) == (DealStatus.WON, "vendor")


def test_the_won_form_rejects_future_dates_and_keeps_the_input(client, partner, partner_admin):
    deal = approved_deal(partner)
    client.force_login(partner_admin)
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    response = client.post(
        reverse("portal:deal_won", args=[deal.pk]),
        {
            "amount": "1234.56",
            "closed_on": future,
            "product_line": deal.products.first().pk,
            "closed_by": "partner",
        },
    )
    assert response.status_code == 400
    assert "A deal cannot be closed in the future." in response.content.decode()
    assert 'value="1234.56"' in response.content.decode()
    assert not Sale.objects.exists()


def test_a_deal_lost(client, partner, partner_sales):
    deal = approved_deal(partner)
    client.force_login(partner_sales)
    response = client.post(reverse("portal:deal_lost", args=[deal.pk]), {"reason": "Budget cut"}, follow=True)
    assert "recorded as lost" in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.LOST
    again = client.post(reverse("portal:deal_lost", args=[deal.pk]), follow=True)
    assert "lost: nothing to do" in again.content.decode()


def test_the_list_filters_by_status_and_paginates(client, partner, partner_admin):
    for number in range(30):
        DealFactory(partner=partner, status=DealStatus.WON if number % 2 else DealStatus.SUBMITTED)
    client.force_login(partner_admin)
    response = client.get(reverse("portal:deals"), {"status": "won"})
    assert response.context["page"].paginator.count == 15
    assert "15 registrations." in response.content.decode()
    full = client.get(reverse("portal:deals"))
    assert len(full.context["page"].object_list) == 25 and "Page 1 of 2" in full.content.decode()
    assert client.get(reverse("portal:deals"), {"status": "bogus", "page": "x"}).status_code == 200


@pytest.mark.parametrize(
    ("country", "currency"), [("GB", "GBP"), ("DE", "EUR"), ("JP", "JPY"), ("US", "USD")]
)
def test_the_registration_form_offers_the_partners_own_currency_first(
    client, entitled, partner, partner_admin, country, currency
):
    partner.country = country
    partner.save(update_fields=["country"])
    client.force_login(partner_admin)
    form = client.get(reverse("portal:deal_register")).context["form"]
    assert form["currency"].value() == currency


def test_the_manager_compares_the_claims_and_cannot_approve_until_the_conflict_is_resolved(
    client, partner, channel_manager, partner_admin, distributor_user
):
    from partners.models import Region
    from tests.factories import PartnerFactory

    rival = PartnerFactory(name="Rival EMEA", region=Region.EMEA)
    earlier = approved_deal(rival, customer_domain="woodgrove.example", customer_name="Woodgrove")
    flagged = DealFactory(
        partner=partner,
        customer_name="Woodgrove Bank",
        customer_domain="woodgrove.example",
        needs_review=True,
        conflicts_with=earlier,
    )
    # A third claim by a partner the manager does not cover is counted, never named.
    stranger = PartnerFactory(name="Uncovered Ltd", region=Region.APAC)
    DealFactory(partner=stranger, customer_domain="woodgrove.example")
    client.force_login(channel_manager)
    detail = client.get(reverse("portal:deal_detail", args=[flagged.pk])).content.decode()
    assert '<button type="button" disabled aria-describedby="approve-blocked">Approve</button>' in detail
    assert f"protected until {earlier.protected_until:%-d %B %Y}" in detail
    assert reverse("portal:deal_conflict", args=[flagged.pk]) in detail

    url = reverse("portal:deal_conflict", args=[flagged.pk])
    page = client.get(url).content.decode()
    assert flagged.reference in page and earlier.reference in page
    assert "Woodgrove Bank" in page and rival.name in page and partner.name in page
    assert f"Waits on {earlier.reference}, approved and protected until" in page
    assert "1 more claim on this customer by partners outside your coverage." in page
    assert "Uncovered Ltd" not in page and "Uncovered Ltd" not in detail
    assert f'action="{reverse("portal:deal_approve", args=[flagged.pk])}"' not in page
    assert reverse("portal:deal_reject", args=[flagged.pk]) in page

    # The service refuses what the page disables.
    refused = client.post(reverse("portal:deal_approve", args=[flagged.pk]), follow=True)
    assert "Reject one of the two claims" in refused.content.decode()
    assert Deal.objects.get(pk=flagged.pk).status == DealStatus.SUBMITTED

    # Once the approved claim is gone the conflict is resolved: approving is offered and works.
    earlier.status = DealStatus.LOST
    earlier.save()
    page = client.get(url).content.decode()
    assert f'action="{reverse("portal:deal_approve", args=[flagged.pk])}"' in page
    assert client.post(reverse("portal:deal_approve", args=[flagged.pk])).status_code == 302
    assert Deal.objects.get(pk=flagged.pk).status == DealStatus.APPROVED

    # The comparison is the vendor's: partners and distributors never open it.
    for user in (partner_admin, distributor_user):
        client.force_login(user)
        assert client.get(url).status_code in (403, 404)
