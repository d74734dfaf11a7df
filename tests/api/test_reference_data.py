"""The vendor's reference data through the API: exchange rates and the codes facts are recorded in.

Everybody signed in reads them; staff holding the model permissions change them
with a session or a token for every partner, through the same services as the
admin, audited and recorded in the history.
"""

import datetime
from decimal import Decimal

import pytest

from api.models import TokenScope
from core.models import AuditEntry, DailyRate, ExchangeRate
from history.selectors import object_history
from tests.factories import ExchangeRateFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def manager(client_for, channel_manager):
    return client_for(channel_manager)


class TestExchangeRates:
    def test_a_channel_manager_adds_a_rate_and_the_daily_table_follows(self, manager):
        response = manager.post(
            f"{V1}/exchange-rates/",
            {"currency": "EUR", "valid_from": "2026-01-01", "rate": "1.0850"},
            format="json",
        )

        assert response.status_code == 201, response.content
        rate = ExchangeRate.objects.get(currency="EUR")
        assert rate.rate == Decimal("1.0850")
        assert response.json() == {
            "id": rate.pk,
            "currency": "EUR",
            "valid_from": "2026-01-01",
            "rate": "1.0850000000",
            "reference_currency": "USD",
        }
        assert DailyRate.objects.get(currency="EUR", day=datetime.date(2026, 1, 1)).rate == Decimal("1.085")
        entry = AuditEntry.objects.get(action="exchange_rate.saved")
        assert Decimal(entry.data["rate"]) == Decimal("1.085")
        assert (object_history(rate)[0].action, object_history(rate)[0].door) == ("created", "api")

    def test_the_reference_currency_a_second_rate_the_same_day_and_bad_rates_are_refused(self, manager):
        ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2026, 1, 1))

        reference = manager.post(
            f"{V1}/exchange-rates/",
            {"currency": "USD", "valid_from": "2026-01-01", "rate": "1"},
            format="json",
        )
        assert reference.status_code == 400
        assert reference.json()["errors"] == {
            "currency": ["USD is the reference currency: its rate is always 1."]
        }

        twice = manager.post(
            f"{V1}/exchange-rates/",
            {"currency": "EUR", "valid_from": "2026-01-01", "rate": "1.2"},
            format="json",
        )
        assert twice.status_code == 409
        assert twice.json()["code"] == "conflict"

        for bad in ("0", "-1", 1.2, ""):
            response = manager.post(
                f"{V1}/exchange-rates/",
                {"currency": "GBP", "valid_from": "2026-01-01", "rate": bad},
                format="json",
            )
            assert response.status_code == 400, bad
            assert list(response.json()["errors"]) == ["rate"], bad
        assert ExchangeRate.objects.count() == 1

    def test_a_rate_dated_before_the_first_fact_or_beyond_next_year_is_refused(self, manager):
        # Each day from a currency's first rate to its last is a row of the daily table: a rate
        # dated in year 1 or 9999 once stalled the server building millions of them.
        next_year = datetime.date.today() + datetime.timedelta(days=367)
        for day, message in (
            ("0001-01-01", "Rates before 01 January 2000 are not accepted."),
            ("1999-12-31", "Rates before 01 January 2000 are not accepted."),
            ("9999-12-31", "A rate is entered at most 366 days ahead."),
            (next_year.isoformat(), "A rate is entered at most 366 days ahead."),
        ):
            response = manager.post(
                f"{V1}/exchange-rates/", {"currency": "EUR", "valid_from": day, "rate": "1.1"}, format="json"
            )
            assert response.status_code == 400, day
            assert response.json()["errors"] == {"valid_from": [message]}, day
        assert not DailyRate.objects.exists()

        rate = ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2000, 1, 1))
        moved = manager.patch(f"{V1}/exchange-rates/{rate.pk}/", {"valid_from": "1900-01-01"}, format="json")
        assert moved.status_code == 400
        assert list(moved.json()["errors"]) == ["valid_from"]
        accepted = (datetime.date.today() + datetime.timedelta(days=366)).isoformat()
        ahead = manager.post(
            f"{V1}/exchange-rates/", {"currency": "EUR", "valid_from": accepted, "rate": "1.2"}, format="json"
        )
        assert ahead.status_code == 201, ahead.content

    def test_a_rate_is_changed_and_deleted_and_the_daily_table_rebuilt(self, manager):
        rate = ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2026, 1, 1), rate=Decimal("1.1"))

        response = manager.patch(f"{V1}/exchange-rates/{rate.pk}/", {"rate": "1.2"}, format="json")
        assert response.status_code == 200, response.content
        assert DailyRate.objects.filter(currency="EUR").values_list(
            "rate", flat=True
        ).distinct().get() == Decimal("1.2")
        assert object_history(rate)[0].changed_fields == ["rate"]

        response = manager.delete(f"{V1}/exchange-rates/{rate.pk}/")
        assert response.status_code == 204
        assert not ExchangeRate.objects.exists()
        assert not DailyRate.objects.filter(currency="EUR").exists()
        assert AuditEntry.objects.filter(action="exchange_rate.deleted").exists()

    def test_everybody_signed_in_reads_the_rates_filtered_by_currency(self, client_for, partner_admin):
        euro = ExchangeRateFactory(currency="EUR")
        ExchangeRateFactory(currency="GBP", rate=Decimal("1.3"))

        response = client_for(partner_admin).get(f"{V1}/exchange-rates/?currency=EUR")

        assert response.status_code == 200
        assert [row["id"] for row in response.json()["results"]] == [euro.pk]
        assert client_for().get(f"{V1}/exchange-rates/").status_code == 401

    def test_partners_read_only_and_partial_tokens_may_not_change_rates(
        self, client_for, token_client, issue_token, partner_admin, channel_manager, superuser, partner
    ):
        rate = ExchangeRateFactory(currency="EUR")
        clients = {
            "partner": client_for(partner_admin),
            "read-only token": token_client(issue_token(channel_manager, scope=TokenScope.READ)[1]),
            "partial token": token_client(issue_token(superuser, all_partners=False, partners=[partner])[1]),
        }
        for name, client in clients.items():
            for method, url, body in (
                (
                    "post",
                    f"{V1}/exchange-rates/",
                    {"currency": "GBP", "valid_from": "2026-01-01", "rate": "1.3"},
                ),
                ("patch", f"{V1}/exchange-rates/{rate.pk}/", {"rate": "2"}),
                ("delete", f"{V1}/exchange-rates/{rate.pk}/", None),
            ):
                response = getattr(client, method)(url, body, format="json")
                assert response.status_code == 403, (name, method)
                assert response.json()["code"] == "permission_denied"
        rate.refresh_from_db()
        assert (ExchangeRate.objects.count(), rate.rate) == (1, Decimal("1.1"))

    def test_a_token_for_every_partner_changes_rates_for_its_issuer(
        self, token_client, issue_token, channel_manager
    ):
        client = token_client(issue_token(channel_manager)[1])

        response = client.post(
            f"{V1}/exchange-rates/",
            {"currency": "GBP", "valid_from": "2026-01-01", "rate": "1.3"},
            format="json",
        )

        assert response.status_code == 201, response.content
        change = object_history(ExchangeRate.objects.get(currency="GBP"))[0]
        assert (change.actor, change.door) == ("morgan", "api")


class TestReferenceCodes:
    ROUTES = {
        "product-lines": {"code": "security", "name": "Security"},
        "certification-types": {"code": "architect", "name": "Architect", "track": "technical"},
        "activity-types": {"code": "webinar", "name": "Webinar", "default_points": 5},
        "service-offerings": {"code": "managed-soc", "name": "Managed SOC"},
    }

    def test_a_channel_manager_adds_changes_and_deletes_each_kind_of_code(self, manager):
        for route, body in self.ROUTES.items():
            created = manager.post(f"{V1}/{route}/", body, format="json")
            assert created.status_code == 201, (route, created.content)
            pk = created.json()["id"]
            assert {key: created.json()[key] for key in body} == body

            changed = manager.patch(f"{V1}/{route}/{pk}/", {"name": "Renamed"}, format="json")
            assert changed.status_code == 200, (route, changed.content)
            assert changed.json()["name"] == "Renamed"

            deleted = manager.delete(f"{V1}/{route}/{pk}/")
            assert deleted.status_code == 204, route
            assert manager.get(f"{V1}/{route}/{pk}/").status_code == 404

        actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
        for model in ("productline", "certificationtype", "activitytype", "serviceoffering"):
            assert [a for a in actions if a.startswith(f"{model}.")] == [
                f"{model}.created",
                f"{model}.changed",
                f"{model}.deleted",
            ]

    def test_a_change_is_recorded_in_the_history_with_the_api_door(self, manager):
        from partners.models import ProductLine

        line = ProductLine.objects.create(code="security", name="Security")

        manager.patch(f"{V1}/product-lines/{line.pk}/", {"name": "Cyber security"}, format="json")

        change = object_history(line)[0]
        assert (change.action, change.actor, change.door) == ("changed", "morgan", "api")
        assert (change.before["name"], change.after["name"]) == ("Security", "Cyber security")
        assert AuditEntry.objects.get(action="productline.changed").data["fields"] == ["name"]

    def test_a_code_taken_is_a_conflict_and_a_code_never_changes(self, manager):
        from partners.models import ProductLine

        line = ProductLine.objects.create(code="security", name="Security")

        taken = manager.post(f"{V1}/product-lines/", {"code": "security", "name": "Again"}, format="json")
        assert taken.status_code == 409
        assert list(taken.json()["errors"]) == ["code"]

        renamed = manager.patch(f"{V1}/product-lines/{line.pk}/", {"code": "cyber"}, format="json")
        assert renamed.status_code == 400
        assert list(renamed.json()["errors"]) == ["code"]
        line.refresh_from_db()
        assert line.code == "security"

        # The schema of a change names no code to write: a PUT without one keeps it, and the
        # object sent back as read, code included, is taken.
        replaced = manager.put(f"{V1}/product-lines/{line.pk}/", {"name": "Cyber"}, format="json")
        assert replaced.status_code == 200, replaced.content
        assert replaced.json()["code"] == "security"
        read = manager.get(f"{V1}/product-lines/{line.pk}/").json()
        again = manager.put(f"{V1}/product-lines/{line.pk}/", {**read, "name": "Security"}, format="json")
        assert again.status_code == 200, again.content
        line.refresh_from_db()
        assert (line.code, line.name) == ("security", "Security")

    def test_bad_values_are_field_errors(self, manager):
        response = manager.post(
            f"{V1}/certification-types/",
            {"code": "not a slug", "name": "", "track": "cooking", "validity_months": -1},
            format="json",
        )

        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"code", "name", "track", "validity_months"}

    def test_a_code_facts_still_name_is_not_deleted(self, manager, world):
        for route, obj in (
            ("product-lines", world.product_line),
            ("certification-types", world.cert_type),
            ("activity-types", world.activity_type),
            ("service-offerings", world.offering),
        ):
            response = manager.delete(f"{V1}/{route}/{obj.pk}/")

            assert response.status_code == 409, route
            body = response.json()
            assert (body["status"], body["code"]) == (409, "protected")
            assert "still in use" in body["detail"]
            assert type(obj).objects.filter(pk=obj.pk).exists()
        assert not AuditEntry.objects.filter(action__endswith=".deleted").exists()

    def test_partners_read_only_and_partial_tokens_may_not_change_codes(
        self, client_for, token_client, issue_token, partner_admin, channel_manager, superuser, partner
    ):
        from partners.models import ProductLine

        line = ProductLine.objects.create(code="security", name="Security")
        clients = {
            "partner": client_for(partner_admin),
            "read-only token": token_client(issue_token(channel_manager, scope=TokenScope.READ)[1]),
            "partial token": token_client(issue_token(superuser, all_partners=False, partners=[partner])[1]),
        }
        for name, client in clients.items():
            assert client.get(f"{V1}/product-lines/{line.pk}/").status_code == 200, name
            for method, url, body in (
                ("post", f"{V1}/product-lines/", {"code": "new", "name": "New"}),
                ("patch", f"{V1}/product-lines/{line.pk}/", {"name": "x"}),
                ("delete", f"{V1}/product-lines/{line.pk}/", None),
            ):
                response = getattr(client, method)(url, body, format="json")
                assert response.status_code == 403, (name, method)
        line.refresh_from_db()
        assert (ProductLine.objects.count(), line.name) == (1, "Security")
