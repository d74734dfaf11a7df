"""Bulk ingestion of facts through the API: idempotent, per-row reports, nothing lost or doubled."""

import datetime
import json
import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.core.validators import validate_email
from django.db import IntegrityError, connection
from django.utils import timezone

from api.models import TokenScope
from core.models import AuditEntry
from partners import ingestion
from partners.models import Certification, EngagementActivity, Person, Sale
from tests.factories import (
    ActivityTypeFactory,
    CertificationTypeFactory,
    ExchangeRateFactory,
    PersonFactory,
    ProductLineFactory,
    SaleFactory,
)

pytestmark = pytest.mark.django_db

SALES = "/api/v1/sales/bulk/"
CERTIFICATIONS = "/api/v1/certifications/bulk/"
ACTIVITIES = "/api/v1/activities/bulk/"
TODAY = timezone.localdate()
YESTERDAY = (TODAY - datetime.timedelta(days=1)).isoformat()


@pytest.fixture
def references(db):
    return {
        "cloud": ProductLineFactory(code="cloud"),
        "se": CertificationTypeFactory(code="sales-engineer", validity_months=24),
        "training": ActivityTypeFactory(code="training", default_points=10),
    }


@pytest.fixture
def manager_client(client_for, channel_manager):
    return client_for(channel_manager)


def sale(external_id, partner, **overrides):
    record = {
        "external_id": external_id,
        "partner": partner.pk,
        "amount": "1250.50",
        "currency": "USD",
        "product_line": "cloud",
        "closed_on": YESTERDAY,
        "customer_name": "Initech",
    }
    record.update(overrides)
    return record


def post(client, url, records, source="crm"):
    body = {"records": records} if source is None else {"source": source, "records": records}
    return client.post(url, body, format="json")


def results_by_id(response):
    return {row["external_id"]: row for row in response.json()["results"]}


class TestSales:
    def test_a_batch_creates_every_record_and_reports_each(self, manager_client, partner, references):
        response = post(manager_client, SALES, [sale("s-1", partner), sale("s-2", partner, amount="99")])

        assert response.status_code == 200, response.content
        report = response.json()
        assert report | {"results": None} == {
            "kind": "sales",
            "source": "crm",
            "received": 2,
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
            "results": None,
        }
        stored = {s.external_id: s for s in Sale.objects.filter(source="crm")}
        assert [row["result"] for row in report["results"]] == ["created", "created"]
        assert [row["id"] for row in report["results"]] == [stored["s-1"].pk, stored["s-2"].pk]
        assert stored["s-1"].amount == Decimal("1250.50")
        assert stored["s-1"].region == partner.region  # defaults to the partner's region
        assert stored["s-1"].customer_name == "Initech"

    def test_resending_the_same_batch_changes_and_counts_nothing(self, manager_client, partner, references):
        batch = [sale("s-1", partner), sale("s-2", partner)]
        first = post(manager_client, SALES, batch)
        before = list(Sale.objects.order_by("id").values("id", "amount", "updated_at"))

        again = post(manager_client, SALES, batch)

        assert again.status_code == 200
        assert again.json()["unchanged"] == 2 and again.json()["created"] == 0
        assert [row["id"] for row in again.json()["results"]] == [
            row["id"] for row in first.json()["results"]
        ]
        assert list(Sale.objects.order_by("id").values("id", "amount", "updated_at")) == before

    def test_a_changed_record_updates_the_stored_fact(self, manager_client, partner, references):
        post(manager_client, SALES, [sale("s-1", partner), sale("s-2", partner)])

        response = post(manager_client, SALES, [sale("s-1", partner, amount="2000"), sale("s-2", partner)])

        rows = results_by_id(response)
        assert rows["s-1"]["result"] == "updated"
        assert rows["s-2"]["result"] == "unchanged"
        assert Sale.objects.get(source="crm", external_id="s-1").amount == Decimal("2000")
        assert Sale.objects.filter(source="crm").count() == 2

    def test_the_same_external_id_from_another_source_is_another_fact(
        self, manager_client, partner, references
    ):
        post(manager_client, SALES, [sale("s-1", partner)], source="crm")
        post(manager_client, SALES, [sale("s-1", partner)], source="billing")

        assert Sale.objects.filter(external_id="s-1").count() == 2

    def test_bad_records_are_rejected_with_reasons_and_the_good_ones_kept(
        self, manager_client, partner, other_partner, references
    ):
        records = [
            sale("good-1", partner),
            sale("negative", partner, amount="-10"),
            sale("zero", partner, amount="0"),
            sale("unknown-currency", partner, currency="ABC"),
            sale("too-precise", partner, amount="10.123"),
            sale("unknown-line", partner, product_line="mainframes"),
            sale("old", partner, closed_on="1999-12-31"),
            sale("future", partner, closed_on=(TODAY + datetime.timedelta(days=30)).isoformat()),
            sale("not-a-date", partner, closed_on="2024-02-30"),
            sale("wrong-types", partner) | {"partner": "one", "amount": True, "currency": 7},
            sale("extra", partner, colour="red"),
            {"partner": partner.pk},
            "not an object",
            sale("hidden-partner", other_partner),
            sale("huge", partner, amount="1000000000000"),
            sale("bad-region", partner, region="mars"),
            sale("good-2", partner),
        ]

        response = post(manager_client, SALES, records)

        assert response.status_code == 200
        report = response.json()
        assert report["created"] == 2 and report["rejected"] == len(records) - 2
        rows = {row["index"]: row for row in report["results"]}
        errors = {
            records[i]["external_id"]
            if isinstance(records[i], dict) and "external_id" in records[i]
            else i: rows[i].get("errors")
            for i in rows
        }
        assert errors["good-1"] is None and errors["good-2"] is None
        assert errors["negative"] == {"amount": ["The amount must be greater than zero."]}
        assert errors["zero"] == {"amount": ["The amount must be greater than zero."]}
        assert errors["unknown-currency"] == {"currency": ["ABC is not an ISO 4217 currency code."]}
        assert errors["too-precise"] == {"amount": ["USD amounts have at most 2 decimal places."]}
        assert errors["unknown-line"] == {"product_line": ["No product line has the code 'mainframes'."]}
        assert errors["old"] == {"closed_on": ["Dates before 01 January 2000 are not accepted."]}
        assert errors["future"] == {"closed_on": ["A fact cannot be dated in the future."]}
        assert errors["not-a-date"] == {"closed_on": ["This is not a date in the calendar."]}
        assert set(errors["wrong-types"]) == {"partner", "amount", "currency"}
        assert errors["extra"] == {"non_field_errors": ["Unknown field(s): colour."]}
        assert errors[11] == {"external_id": ["This field is required."]} | {
            key: ["This field is required."] for key in ("amount", "currency", "product_line", "closed_on")
        }
        assert errors[12] == {"non_field_errors": ["Each record must be a JSON object."]}
        assert errors["hidden-partner"] == {
            "partner": ["No partner with this id that you may send facts for."]
        }
        assert errors["huge"] == {"amount": ["The amount must not exceed 999,999,999,999.9999."]}
        assert "region" in errors["bad-region"]
        assert set(Sale.objects.values_list("external_id", flat=True)) == {"good-1", "good-2"}

    def test_a_record_under_a_partner_the_caller_cannot_see_is_never_overwritten(
        self, manager_client, partner, other_partner, references
    ):
        foreign = SaleFactory(partner=other_partner, source="crm", external_id="s-1", amount=Decimal(5))

        response = post(manager_client, SALES, [sale("s-1", partner, amount="7")])

        assert results_by_id(response)["s-1"]["errors"] == {
            "external_id": ["This external id belongs to a record you may not change."]
        }
        foreign.refresh_from_db()
        assert (foreign.partner_id, foreign.amount) == (other_partner.pk, Decimal(5))

    def test_the_same_external_id_twice_in_a_batch_keeps_the_first(self, manager_client, partner, references):
        response = post(manager_client, SALES, [sale("s-1", partner), sale("s-1", partner, amount="3")])

        results = response.json()["results"]
        assert results[0]["result"] == "created"
        assert results[1]["errors"] == {
            "external_id": ["The same external id is already in this batch at index 0."]
        }
        assert Sale.objects.get().amount == Decimal("1250.50")

    def test_json_numbers_are_read_as_exact_decimals(self, manager_client, partner, references):
        raw = json.dumps({"source": "crm", "records": [sale("s-1", partner, amount=0)]}).replace(
            '"amount": 0', '"amount": 1234.57'
        )

        response = manager_client.post(SALES, raw, content_type="application/json")

        assert response.json()["created"] == 1
        assert Sale.objects.get().amount == Decimal("1234.57")

    def test_a_float_amount_is_refused_by_the_service(self, channel_manager, partner, references):
        report = ingestion.ingest_sales(
            actor=channel_manager, source="crm", records=[sale("s-1", partner, amount=12.5)]
        )

        assert report.results[0].errors == {
            "amount": ['Send the amount as a decimal string, e.g. "1234.50", never a float.']
        }

    def test_foreign_currencies_need_an_exchange_rate_on_the_day(self, manager_client, partner, references):
        ExchangeRateFactory(currency="EUR", valid_from=datetime.date(2020, 1, 1))
        records = [
            sale("eur", partner, currency="EUR"),
            sale("eur-old", partner, currency="eur", closed_on="2019-06-01"),
            sale("gbp", partner, currency="GBP"),
        ]

        rows = results_by_id(post(manager_client, SALES, records))

        assert rows["eur"]["result"] == "created"
        assert rows["eur-old"]["errors"]["currency"][0].startswith(
            "There is no EUR exchange rate on or before"
        )
        assert rows["gbp"]["errors"]["currency"][0].startswith("There is no GBP exchange rate")

    def test_changed_partners_are_reevaluated_once_after_commit(
        self, manager_client, partner, references, django_capture_on_commit_callbacks
    ):
        with (
            mock.patch("gates.tasks.evaluate_partners_task.apply_async") as queued,
            django_capture_on_commit_callbacks(execute=True) as callbacks,
        ):
            post(manager_client, SALES, [sale(f"s-{n}", partner) for n in range(50)])

        assert len(callbacks) == 1
        assert queued.call_count == 1  # one task for the partner, however many of its facts arrived
        assert queued.call_args.kwargs["args"] == ([partner.pk],)

    def test_an_unchanged_batch_queues_no_reevaluation(
        self, manager_client, partner, references, django_capture_on_commit_callbacks
    ):
        post(manager_client, SALES, [sale("s-1", partner)])
        with django_capture_on_commit_callbacks() as callbacks:
            response = post(manager_client, SALES, [sale("s-1", partner)])

        assert response.json()["unchanged"] == 1
        assert callbacks == []

    def test_moving_a_sale_to_another_partner_reevaluates_both(
        self, channel_manager, partner, references, django_capture_on_commit_callbacks
    ):
        from tests.factories import PartnerFactory

        second = PartnerFactory(name="Acme Two")
        ingestion.ingest_sales(actor=channel_manager, source="crm", records=[sale("s-1", partner)])
        with mock.patch("gates.services.request_reevaluation") as reevaluate:
            report = ingestion.ingest_sales(
                actor=channel_manager, source="crm", records=[sale("s-1", second)]
            )

        assert report.results[0].result == "updated"
        reevaluate.assert_called_once_with({partner.pk, second.pk})

    def test_a_crash_after_writing_leaves_nothing_half_written(self, channel_manager, partner, references):
        with (
            mock.patch.object(AuditEntry.objects, "create", side_effect=RuntimeError("worker killed")),
            pytest.raises(RuntimeError),
        ):
            ingestion.ingest_sales(
                actor=channel_manager, source="crm", records=[sale(f"s-{n}", partner) for n in range(20)]
            )

        assert not Sale.objects.exists()

    def test_records_the_database_refuses_are_rejected_alone(self, channel_manager, partner, references):
        original_save = Sale.save

        def refuse_one(self, *args, **kwargs):
            if self.external_id == "s-2":
                raise IntegrityError("sale_amount_positive")
            return original_save(self, *args, **kwargs)

        with (
            mock.patch.object(ingestion.SalesIngestion, "_insert_new", side_effect=IntegrityError("refused")),
            mock.patch.object(Sale, "save", refuse_one),
        ):
            report = ingestion.ingest_sales(
                actor=channel_manager, source="crm", records=[sale(f"s-{n}", partner) for n in range(1, 4)]
            )

        assert [row.result for row in report.results] == ["created", "rejected", "created"]
        assert report.results[1].errors == {
            "non_field_errors": ["The database refused this record: sale_amount_positive"]
        }
        assert sorted(Sale.objects.values_list("external_id", flat=True)) == ["s-1", "s-3"]

    def test_every_batch_is_audited_with_its_counts(
        self, manager_client, partner, references, channel_manager
    ):
        post(manager_client, SALES, [sale("s-1", partner), sale("bad", partner, amount="-1")])

        entry = AuditEntry.objects.get(action="sales.ingested")
        assert (entry.actor, entry.target_id) == (channel_manager, "crm")
        assert entry.data == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}


class TestBatchErrors:
    """Problems with the batch as a whole: a 400 with the standard body, and nothing stored."""

    @pytest.mark.parametrize(
        ("body", "field", "message"),
        [
            ({"records": []}, "source", "Name the sending system, e.g. salesforce."),
            ({"source": "crm"}, "records", "This field is required."),
            ({"source": "crm", "records": []}, "records", "Send at least one record."),
            ({"source": "crm", "records": {"a": 1}}, "records", "Expected a list of records."),
            (
                {"source": "crm m", "records": [{}]},
                "source",
                "Name the source in letters, digits, - and _ (at most 50).",
            ),
            ({"source": "crm", "records": [], "extra": 1}, "extra", "Unknown field."),
            ([1, 2], "non_field_errors", "Send a JSON object with source and records."),
        ],
    )
    def test_a_malformed_batch_answers_400(self, manager_client, body, field, message, references):
        response = manager_client.post(SALES, body, format="json")

        assert response.status_code == 400
        assert response.json()["errors"] == {field: [message]}
        assert response.json()["code"] == "invalid"
        assert not Sale.objects.exists()

    def test_more_records_than_a_batch_takes(self, manager_client, partner, references, settings):
        settings.PRM_INGESTION_MAX_ROWS = 3

        response = post(manager_client, SALES, [sale(f"s-{n}", partner) for n in range(4)])

        assert response.status_code == 400
        assert response.json()["errors"] == {"records": ["Send at most 3 records per batch; split the rest."]}
        assert not Sale.objects.exists()

    def test_a_body_over_the_ceiling_answers_413_unread(self, manager_client, partner, references, settings):
        settings.PRM_API_MAX_BODY_BYTES = 2000

        response = post(manager_client, SALES, [sale(f"s-{n}", partner) for n in range(20)])

        assert response.status_code == 413
        assert response.json() == {
            "status": 413,
            "code": "payload_too_large",
            "detail": "The request body is larger than 2,000 bytes.",
        }

    def test_malformed_json(self, manager_client):
        response = manager_client.post(
            SALES, '{"source": "crm", "records": [', content_type="application/json"
        )

        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"
        assert response.json()["detail"].startswith("The body is not valid JSON")

    def test_nan_is_not_a_number_here(self, manager_client, partner):
        body = '{"source": "crm", "records": [{"amount": NaN}]}'
        response = manager_client.post(SALES, body, content_type="application/json")

        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"

    def test_a_body_that_is_not_json(self, manager_client):
        response = manager_client.post(SALES, "source=crm", content_type="application/x-www-form-urlencoded")

        assert response.status_code == 415
        assert response.json()["code"] == "unsupported_media_type"


class TestTokens:
    def test_a_token_for_one_source_names_it_for_every_batch(
        self, channel_manager, issue_token, token_client, partner, references
    ):
        _, secret = issue_token(channel_manager, source="salesforce")
        client = token_client(secret)

        created = post(client, SALES, [sale("s-1", partner)], source=None)
        refused = post(client, SALES, [sale("s-2", partner)], source="billing")

        assert created.json()["source"] == "salesforce"
        assert Sale.objects.get().source == "salesforce"
        assert refused.status_code == 400
        assert refused.json()["errors"] == {
            "source": ["This token sends facts for the source 'salesforce' only."]
        }

    def test_a_read_only_token_cannot_send(
        self, channel_manager, issue_token, token_client, partner, references
    ):
        _, secret = issue_token(channel_manager, scope=TokenScope.READ)

        response = post(token_client(secret), SALES, [sale("s-1", partner)])

        assert response.status_code == 403
        assert (
            response.json()["detail"] == "This token is read-only: ask for a read-write token to send data."
        )
        assert not Sale.objects.exists()

    def test_a_token_for_named_partners_sends_for_those_only(
        self, superuser, issue_token, token_client, partner, other_partner, references
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[partner])

        response = post(token_client(secret), SALES, [sale("mine", partner), sale("theirs", other_partner)])

        rows = results_by_id(response)
        assert rows["mine"]["result"] == "created"
        assert rows["theirs"]["result"] == "rejected"

    def test_the_token_is_recorded_in_the_audit_entry(
        self, channel_manager, issue_token, token_client, partner, references
    ):
        token, secret = issue_token(channel_manager)

        post(token_client(secret), SALES, [sale("s-1", partner)])

        assert AuditEntry.objects.get(action="sales.ingested").data["token"] == token.identifier


class TestCertifications:
    def record(self, external_id, partner, **overrides):
        record = {
            "external_id": external_id,
            "partner": partner.pk,
            "person_email": "Ada@Acme.example.com",
            "person_first_name": "Ada",
            "person_last_name": "Lovelace",
            "certification_type": "sales-engineer",
            "issued_on": "2025-03-31",
        }
        record.update(overrides)
        return record

    def test_an_unknown_holder_is_added_once_and_the_expiry_follows_the_type(
        self, manager_client, partner, references
    ):
        response = post(
            manager_client,
            CERTIFICATIONS,
            [self.record("c-1", partner), self.record("c-2", partner, issued_on="2025-01-15")],
            source="lms",
        )

        assert response.json()["created"] == 2
        person = Person.objects.get(partner=partner)
        assert (person.email, person.first_name, person.last_name) == (
            "ada@acme.example.com",
            "Ada",
            "Lovelace",
        )
        first = Certification.objects.get(external_id="c-1")
        assert first.person == person
        assert first.expires_on == datetime.date(2027, 3, 31)  # 24 months of validity

    def test_a_known_holder_is_found_by_email_in_any_case(self, manager_client, partner, references):
        known = PersonFactory(partner=partner, email="ADA@acme.example.com")
        record = self.record("c-1", partner, person_first_name=None, person_last_name=None)
        del record["person_first_name"], record["person_last_name"]

        response = post(manager_client, CERTIFICATIONS, [record], source="lms")

        assert response.json()["created"] == 1
        assert Certification.objects.get().person == known
        assert Person.objects.count() == 1

    def test_an_unknown_holder_without_a_name_is_rejected(self, manager_client, partner, references):
        record = self.record("c-1", partner)
        del record["person_first_name"], record["person_last_name"]

        response = post(manager_client, CERTIFICATIONS, [record], source="lms")

        assert response.json()["results"][0]["errors"] == {
            "person_email": [
                "Nobody with this e-mail works for the partner; send person_first_name and "
                "person_last_name to add them."
            ]
        }
        assert not Person.objects.exists()

    def test_dates_and_types_are_checked(self, manager_client, partner, references):
        records = [
            self.record("expires-first", partner, expires_on="2025-01-01"),
            self.record("bad-type", partner, certification_type="astronaut"),
            self.record("bad-email", partner, person_email="not-an-email"),
            self.record("accented-email", partner, person_email="chloé.patel.1@partner1.example.com"),
            self.record("explicit", partner, expires_on="2030-12-31"),
        ]

        rows = results_by_id(post(manager_client, CERTIFICATIONS, records, source="lms"))

        assert rows["expires-first"]["errors"] == {
            "expires_on": ["The expiry date is before the issue date."]
        }
        assert rows["bad-type"]["errors"] == {
            "certification_type": ["No certification type has the code 'astronaut'."]
        }
        # The portal's and the admin's e-mail field, word for word.
        refused = str(validate_email.message)
        assert rows["bad-email"]["errors"] == {"person_email": [refused]}
        assert rows["accented-email"]["errors"] == {"person_email": [refused]}
        assert Certification.objects.get(external_id="explicit").expires_on == datetime.date(2030, 12, 31)

    def test_resending_is_idempotent_and_a_new_expiry_updates(self, manager_client, partner, references):
        post(manager_client, CERTIFICATIONS, [self.record("c-1", partner)], source="lms")

        same = post(manager_client, CERTIFICATIONS, [self.record("c-1", partner)], source="lms")
        renewed = post(
            manager_client,
            CERTIFICATIONS,
            [self.record("c-1", partner, expires_on="2029-01-01")],
            source="lms",
        )

        assert same.json()["unchanged"] == 1
        assert renewed.json()["updated"] == 1
        assert Certification.objects.get().expires_on == datetime.date(2029, 1, 1)
        assert Certification.objects.count() == 1 and Person.objects.count() == 1


class TestActivities:
    def test_points_default_to_the_type_and_updates_are_detected(self, manager_client, partner, references):
        record = {
            "external_id": "a-1",
            "partner": partner.pk,
            "activity_type": "training",
            "occurred_on": YESTERDAY,
        }

        created = post(manager_client, ACTIVITIES, [record], source="lms")
        same = post(manager_client, ACTIVITIES, [record], source="lms")
        changed = post(
            manager_client, ACTIVITIES, [record | {"points": 25, "description": "Bootcamp"}], source="lms"
        )

        assert (created.json()["created"], same.json()["unchanged"], changed.json()["updated"]) == (1, 1, 1)
        activity = EngagementActivity.objects.get()
        assert (activity.points, activity.description) == (25, "Bootcamp")

    def test_points_are_whole_and_not_negative(self, manager_client, partner, references):
        base = {"partner": partner.pk, "activity_type": "training", "occurred_on": YESTERDAY}
        records = [base | {"external_id": "neg", "points": -1}, base | {"external_id": "half", "points": 1.5}]

        rows = results_by_id(post(manager_client, ACTIVITIES, records, source="lms"))

        assert rows["neg"]["errors"] == {"points": ["Points lie between 0 and 2,147,483,647."]}
        assert rows["half"]["errors"] == {"points": ["Expected a whole number of points."]}


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's in-memory test database refuses a second writer outright; CI runs this on PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_two_retries_racing_store_each_record_once(channel_manager, partner, references):
    """A client that times out and retries while the first request still runs: no duplicates."""
    records = [sale(f"s-{n}", partner) for n in range(300)]
    reports, failures = [], []

    def send():
        try:
            reports.append(ingestion.ingest_sales(actor=channel_manager, source="crm", records=records))
        except Exception as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert Sale.objects.filter(source="crm").count() == 300
    assert sorted(report.count("created") for report in reports) == [0, 300]
    assert sorted(report.count("unchanged") for report in reports) == [0, 300]
