"""Facts entered by hand in the admin go through the services: the door, the record, the re-evaluation."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from core.models import AuditEntry
from partners.models import Person, Region, Sale
from partners.services import fact_save, facts_delete
from partners.signals import facts_changed
from tests.factories import PartnerFactory, PersonFactory, ProductLineFactory, SaleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced():
    """The partner ids each ``facts_changed`` announced, in order."""
    calls: list[set[int]] = []

    def receiver(sender, partner_ids=(), **_kwargs):
        calls.append(set(partner_ids))

    facts_changed.connect(receiver, dispatch_uid="test-announced")
    yield calls
    facts_changed.disconnect(dispatch_uid="test-announced")


def _sale_form(partner, line, **extra):
    return {
        "partner": partner.pk,
        "amount": "1250.00",
        "currency": "USD",
        "product_line": line.pk,
        "region": Region.EMEA,
        "closed_on": (datetime.date.today() - datetime.timedelta(days=3)).isoformat(),
        "deal": "",
        "customer_name": "Globex",
        "source": "manual",
        "external_id": "",
        **extra,
    }


def test_a_sale_added_in_the_admin_is_recorded_and_re_evaluates_its_partner(client, superuser, announced):
    partner, line = PartnerFactory(), ProductLineFactory()
    client.force_login(superuser)
    response = client.post(reverse("admin:partners_sale_add"), _sale_form(partner, line))
    assert response.status_code == 302, response.context["adminform"].form.errors
    sale = Sale.objects.get(partner=partner)
    assert sale.amount == Decimal("1250.00")
    entry = AuditEntry.objects.get(action="sale.created")
    assert (entry.actor, entry.target_id) == (superuser, str(sale.pk))
    assert announced == [{partner.pk}]


def test_moving_a_sale_to_another_partner_re_evaluates_both(client, superuser, announced):
    before, after = PartnerFactory(), PartnerFactory()
    sale = SaleFactory(partner=before)
    client.force_login(superuser)
    response = client.post(
        reverse("admin:partners_sale_change", args=[sale.pk]),
        _sale_form(after, sale.product_line, closed_on=sale.closed_on.isoformat()),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert announced == [{before.pk, after.pk}]
    assert AuditEntry.objects.filter(action="sale.changed", target_id=str(sale.pk)).count() == 1


def test_deleting_sales_from_the_list_records_each_and_announces_once(client, superuser, announced):
    first, second = PartnerFactory(), PartnerFactory()
    sales = [SaleFactory(partner=first), SaleFactory(partner=first), SaleFactory(partner=second)]
    client.force_login(superuser)
    response = client.post(
        reverse("admin:partners_sale_changelist"),
        {"action": "delete_selected", "_selected_action": [s.pk for s in sales], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Sale.objects.exists()
    assert AuditEntry.objects.filter(action="sale.deleted").count() == 3
    assert announced == [{first.pk, second.pk}]


def test_a_person_added_in_the_partner_pages_inline_goes_through_the_services(client, superuser, announced):
    partner = PartnerFactory()
    client.force_login(superuser)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {
            "distributor": "",
            "channel_manager": "",
            "joined_on": partner.joined_on.isoformat(),
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "people-TOTAL_FORMS": "1",
            "people-INITIAL_FORMS": "0",
            "people-0-first_name": "Ana",
            "people-0-last_name": "Silva",
            "people-0-email": "ana.silva@example.com",
            "people-0-job_title": "Sales engineer",
            "people-0-is_active": "on",
            "proficiencies-TOTAL_FORMS": "0",
            "proficiencies-INITIAL_FORMS": "0",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    person = Person.objects.get(partner=partner, last_name="Silva")
    assert AuditEntry.objects.filter(action="person.created", target_id=str(person.pk)).exists()
    assert {partner.pk} in announced


def test_the_services_refuse_what_the_door_refuses_and_write_nothing(channel_manager, announced):
    """A manager covering EMEA may not record or delete facts of a Latin American partner."""
    foreign = PartnerFactory(region=Region.LATIN_AMERICA, country="BR")
    sale = SaleFactory(partner=foreign)
    with pytest.raises(PermissionDenied):
        fact_save(
            actor=channel_manager,
            fact=Sale(
                partner=foreign,
                amount=Decimal("999999.00"),
                currency="USD",
                product_line=sale.product_line,
                region=Region.LATIN_AMERICA,
                closed_on=sale.closed_on,
            ),
        )
    with pytest.raises(PermissionDenied):
        facts_delete(actor=channel_manager, facts=[sale])
    with pytest.raises(PermissionDenied):
        sale.amount = Decimal("1.00")
        fact_save(actor=channel_manager, fact=sale)
    assert Sale.objects.get().amount != Decimal("1.00")
    assert Sale.objects.count() == 1 and not AuditEntry.objects.exists() and announced == []


def test_deleting_is_all_or_nothing(channel_manager):
    own = PersonFactory(partner=PartnerFactory(region=Region.EMEA, country="GB"))
    foreign = PersonFactory(partner=PartnerFactory(region=Region.LATIN_AMERICA, country="BR"))
    with pytest.raises(PermissionDenied):
        facts_delete(actor=channel_manager, facts=[own, foreign])
    assert Person.objects.count() == 2
