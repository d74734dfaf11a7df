import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.money import Money, round_money
from partners.models import Certification, Membership, MembershipRole, Partner, Sale
from tests.factories import (
    CertificationFactory,
    ExchangeRateFactory,
    MembershipFactory,
    PartnerFactory,
    PersonFactory,
    ProductLineFactory,
    SaleFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_a_sale_in_an_unknown_currency_is_refused():
    sale = SaleFactory.build(partner=PartnerFactory(), product_line=ProductLineFactory(), currency="XYZ")
    with pytest.raises(ValidationError) as error:
        sale.full_clean()
    assert "not an ISO 4217 currency" in str(error.value.message_dict["currency"])


def test_a_negative_sale_is_refused_by_the_form_and_the_database():
    sale = SaleFactory.build(
        partner=PartnerFactory(), product_line=ProductLineFactory(), amount=Decimal("-5")
    )
    with pytest.raises(ValidationError) as error:
        sale.full_clean()
    assert "greater than zero" in str(error.value.message_dict["amount"])
    with pytest.raises(IntegrityError), transaction.atomic():
        sale.save()


def test_a_sale_needs_a_rate_for_its_currency_on_its_date():
    ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2024, 1, 1))
    partner, line = PartnerFactory(), ProductLineFactory()
    early = SaleFactory.build(
        partner=partner, product_line=line, currency="EUR", closed_on=datetime.date(2023, 6, 1)
    )
    with pytest.raises(ValidationError) as error:
        early.full_clean()
    assert "no EUR exchange rate on or before" in str(error.value.message_dict["currency"])
    later = SaleFactory.build(
        partner=partner, product_line=line, currency="EUR", closed_on=datetime.date(2024, 6, 1)
    )
    later.full_clean()


def test_a_sale_amount_cannot_be_finer_than_its_currency():
    sale = SaleFactory.build(
        partner=PartnerFactory(), product_line=ProductLineFactory(), amount=Decimal("10.005")
    )
    with pytest.raises(ValidationError) as error:
        sale.full_clean()
    assert "at most 2 decimal places" in str(error.value.message_dict["amount"])


def test_a_future_or_ancient_sale_date_is_refused():
    partner, line = PartnerFactory(), ProductLineFactory()
    for day in (datetime.date(1999, 12, 31), datetime.date.today() + datetime.timedelta(days=30)):
        sale = SaleFactory.build(partner=partner, product_line=line, closed_on=day)
        with pytest.raises(ValidationError) as error:
            sale.full_clean()
        assert "closed_on" in error.value.message_dict


def test_a_resent_sale_with_the_same_external_id_is_refused_by_the_database():
    sale = SaleFactory(source="crm", external_id="OPP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        SaleFactory(partner=sale.partner, source="crm", external_id="OPP-1")
    # Another source may use the same id, and manual entries carry none.
    SaleFactory(partner=sale.partner, source="billing", external_id="OPP-1")
    SaleFactory(partner=sale.partner)
    SaleFactory(partner=sale.partner)
    assert Sale.objects.count() == 4


def test_a_certification_cannot_expire_before_it_is_issued():
    certification = CertificationFactory.build(
        person=PersonFactory(),
        issued_on=datetime.date(2025, 5, 1),
        expires_on=datetime.date(2025, 4, 1),
    )
    from tests.factories import CertificationTypeFactory

    certification.certification_type = CertificationTypeFactory()
    with pytest.raises(ValidationError) as error:
        certification.full_clean()
    assert "before the issue date" in str(error.value.message_dict["expires_on"])
    with pytest.raises(IntegrityError), transaction.atomic():
        certification.save()


def test_certification_validity_includes_its_expiry_day():
    certification = CertificationFactory(
        issued_on=datetime.date(2025, 1, 1), expires_on=datetime.date(2025, 12, 31)
    )
    assert certification.is_valid_on(datetime.date(2025, 12, 31))
    assert not certification.is_valid_on(datetime.date(2026, 1, 1))
    assert list(Certification.objects.valid_on(datetime.date(2025, 12, 31))) == [certification]
    assert not Certification.objects.valid_on(datetime.date(2026, 1, 1)).exists()


def test_a_membership_belongs_to_exactly_one_organisation(distributor):
    user = UserFactory()
    membership = Membership(
        user=user, partner=PartnerFactory(), distributor=distributor, role=MembershipRole.ADMIN
    )
    with pytest.raises(ValidationError):
        membership.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        membership.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, distributor=distributor, role=MembershipRole.ADMIN)


def test_money_is_rounded_once_to_the_currency_minor_unit():
    assert round_money(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert round_money(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert round_money(Decimal("1.2345"), "BHD") == Decimal("1.235")
    assert str(Money(Decimal("1234.5"), "EUR")) == "1,234.50 EUR"
    with pytest.raises(TypeError):
        Money(1.5, "EUR")  # type: ignore[arg-type]


class TestPartnerVisibility:
    def test_each_persona_sees_what_it_should(
        self,
        partner,
        other_partner,
        partner_admin,
        other_partner_admin,
        distributor_user,
        channel_manager,
        superuser,
    ):
        PartnerFactory(name="Served", distributor=partner.distributor)
        PartnerFactory(name="Assigned", region="apac", channel_manager=channel_manager)
        unassigned_apac = PartnerFactory(name="Far away", region="apac")

        def names(user):
            return set(Partner.objects.visible_to(user).values_list("name", flat=True))

        assert names(partner_admin) == {"Acme"}
        assert names(other_partner_admin) == {"Globex"}
        assert names(distributor_user) == {"Acme", "Served"}
        # EMEA is the manager's region; the APAC partner is assigned to them.
        assert names(channel_manager) == {"Acme", "Served", "Assigned"}
        assert unassigned_apac.name not in names(channel_manager)
        assert names(superuser) == {"Acme", "Globex", "Served", "Assigned", "Far away"}

    def test_anonymous_and_unattached_users_see_nothing(self, partner):
        from django.contrib.auth.models import AnonymousUser

        assert not Partner.objects.visible_to(AnonymousUser()).exists()
        assert not Partner.objects.visible_to(UserFactory()).exists()

    def test_inactive_users_see_nothing(self, partner):
        user = MembershipFactory(partner=partner).user
        user.is_active = False
        assert not Partner.objects.visible_to(user).exists()


def test_exchange_rates_read_as_people_write_them():
    from core.models import ExchangeRate

    rate = ExchangeRate(currency="EUR", valid_from=datetime.date(2027, 3, 31), rate=Decimal("1.1000000000"))
    assert str(rate) == "1 EUR = 1.1 USD from 31 March 2027"
