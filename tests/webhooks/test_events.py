"""Each event kind is recorded by the service that makes the change, with exactly its documented fields."""

import datetime
import json
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals import mdf
from deals import services as deal_services
from deals.models import DealStatus
from events.catalogue import EVENT_TYPES, webhook_schema_name
from events.models import OutboxEvent
from gates import services as gate_services
from gates.forecast import forecasts_refresh
from incentives import services as incentive_services
from incentives.periods import quarter_of
from partners.models import LifecycleStatus
from tests.deals.helpers import approved_deal, grant_deal_registration, grant_mdf, registration
from tests.factories import PartnerFactory, ProductLineFactory, ProgramFactory
from tests.gates.conftest import Ladder
from tests.incentives.helpers import commission_rule, won_deal

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 3, 1)


def events_of(name: str, **data) -> list[OutboxEvent]:
    found = list(OutboxEvent.objects.filter(event_type=name).order_by("occurred_at", "id"))
    return [event for event in found if all(event.data.get(key) == value for key, value in data.items())]


def assert_documented(event: OutboxEvent) -> None:
    """The payload has exactly the fields of its schema, of their JSON types."""
    kind = EVENT_TYPES[event.event_type]
    assert event.schema_version == kind.version
    assert set(event.data) == set(kind.fields), (event.event_type, set(event.data) ^ set(kind.fields))
    data = json.loads(json.dumps(event.data))
    for key, json_type in kind.fields.items():
        value = data[key]
        if value is None:
            assert json_type.endswith("?"), (event.event_type, key)
            continue
        expected = {
            "integer": int,
            "string": str,
            "decimal": str,
            "date": str,
            "date-time": str,
            "boolean": bool,
            "object": dict,
            "array": list,
        }[json_type.rstrip("?")]
        assert isinstance(value, expected), (event.event_type, key, value)
        if json_type.startswith("decimal"):
            Decimal(value)
        elif json_type.startswith("date-time"):
            datetime.datetime.fromisoformat(value)
        elif json_type.startswith("date"):
            datetime.date.fromisoformat(value)


def test_the_openapi_webhooks_setting_lists_every_event_type():
    listed = django_settings.SPECTACULAR_SETTINGS["WEBHOOKS"]
    assert listed == [f"webhooks.schemas.{webhook_schema_name(name)}" for name in EVENT_TYPES]


def test_the_schema_documents_every_event_type(client, superuser):
    client.force_login(superuser)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert set(schema["webhooks"]) == set(EVENT_TYPES)
    body = schema["webhooks"]["deal.won"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"id", "type", "version", "timestamp", "data"} <= set(component["properties"])
    assert "forecast horizon" in schema["webhooks"]["gate.at_risk"]["post"]["description"]
    assert "Not emitted yet" not in json.dumps(schema["webhooks"])


def test_partners_joining_and_changing_status(partner):
    created = events_of("partner.created", partner_id=partner.pk)
    assert len(created) == 1 and created[0].data["region"] == partner.region
    partner.status = LifecycleStatus.SUSPENDED
    partner.save()
    partner.name = "Acme Renamed"
    partner.save()  # the status did not move: no event
    (changed,) = events_of("partner.status_changed", partner_id=partner.pk)
    assert (changed.data["from_status"], changed.data["to_status"]) == ("active", "suspended")
    for event in (*created, changed):
        assert_documented(event)
        assert event.partner_id == partner.pk


def test_deal_registration_events(partner, partner_admin, superuser):
    grant_deal_registration(partner)
    deal = deal_services.deal_register(actor=partner_admin, partner=partner, **registration())
    deal_services.deal_approve(actor=superuser, deal=deal)
    deal_services.deal_mark_won(actor=partner_admin, deal=deal)
    rejected = deal_services.deal_register(
        actor=partner_admin,
        partner=partner,
        **registration(customer_domain="other.example", products=deal.products.all()),
    )
    deal_services.deal_reject(actor=superuser, deal=rejected, reason="Duplicate of a direct deal")
    expiring = approved_deal(partner, customer_domain="late.example", protected_until=TODAY)
    deal_services.deals_expire(today=TODAY + datetime.timedelta(days=1))

    (submitted,) = events_of("deal.submitted", deal_id=deal.pk)
    (approved,) = events_of("deal.approved", deal_id=deal.pk)
    (won,) = events_of("deal.won", deal_id=deal.pk)
    (refused,) = events_of("deal.rejected", deal_id=rejected.pk)
    (expired,) = events_of("deal.expired", deal_id=expiring.pk)
    assert approved.data["status"] == DealStatus.APPROVED and approved.data["protected_until"]
    assert won.data["amount"] == "50000.00" and won.data["sale_id"]
    assert refused.data["rejection_reason"] == "Duplicate of a direct deal"
    assert expired.data["status"] == DealStatus.EXPIRED
    for event in (submitted, approved, won, refused, expired):
        assert_documented(event)
        assert event.partner_id == partner.pk


def test_mdf_events(partner, partner_admin, superuser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    grant_mdf(partner, "10000.00")
    day = datetime.date(2026, 5, 20)
    request = mdf.mdf_request_create(
        actor=partner_admin,
        partner=partner,
        title="Webinar series",
        activity_kind="digital",
        starts_on=day,
        ends_on=day + datetime.timedelta(days=10),
        amount=Decimal("4000.00"),
        day=day,
    )
    request = mdf.mdf_request_approve(actor=superuser, request=request, amount=Decimal("3000.00"))
    request = mdf.mdf_claim(
        actor=partner_admin,
        request=request,
        amount=Decimal("2500.00"),
        proof=SimpleUploadedFile("invoice.pdf", b"%PDF-1.4\n% proof\n"),
        day=day + datetime.timedelta(days=11),
    )
    mdf.mdf_mark_paid(actor=superuser, request=request, reference="PAY-7")

    names = ["mdf.requested", "mdf.approved", "mdf.claimed", "mdf.paid"]
    found = {name: events_of(name, mdf_request_id=request.pk) for name in names}
    assert all(len(events) == 1 for events in found.values()), found
    assert found["mdf.approved"][0].data["approved_amount"] == "3000.00"
    assert found["mdf.claimed"][0].data["claimed_amount"] == "2500.00"
    assert found["mdf.paid"][0].data["payment_reference"] == "PAY-7"
    for (event,) in found.values():
        assert_documented(event)


def test_a_rejected_mdf_request_is_an_event_with_the_reason_in_the_same_transaction(
    partner, partner_admin, superuser
):
    grant_mdf(partner, "10000.00")
    day = datetime.date(2026, 5, 20)
    request = mdf.mdf_request_create(
        actor=partner_admin,
        partner=partner,
        title="Trade show booth",
        activity_kind="event",
        starts_on=day,
        ends_on=day + datetime.timedelta(days=2),
        amount=Decimal("4000.00"),
        day=day,
    )
    # A refused rejection (no reason) records nothing.
    with pytest.raises(ValidationError):
        mdf.mdf_request_reject(actor=superuser, request=request, reason="  ")
    assert events_of("mdf.rejected", mdf_request_id=request.pk) == []

    with CaptureQueriesContext(connection) as queries:
        mdf.mdf_request_reject(actor=superuser, request=request, reason="Not a marketing activity.")
    (rejected,) = events_of("mdf.rejected", mdf_request_id=request.pk)
    assert_documented(rejected)
    assert rejected.partner_id == partner.pk
    assert rejected.data["status"] == "rejected"
    assert rejected.data["rejection_reason"] == "Not a marketing activity."
    assert (rejected.data["amount"], rejected.data["approved_amount"]) == ("4000.00", None)
    # Written inside the rejection's own transaction, between its savepoint and its release.
    statements = [q["sql"] for q in queries.captured_queries]
    inserted = next(i for i, sql in enumerate(statements) if 'INSERT INTO "events_outboxevent"' in sql)
    released = max(i for i, sql in enumerate(statements) if sql.startswith("RELEASE SAVEPOINT"))
    assert inserted < released


def test_ledger_entries_and_closed_statements(partner):
    program = ProgramFactory(name="Partner Network", slug="partner-network")
    cloud = ProductLineFactory(code="cloud", name="Cloud")
    commission_rule(program, effective_from=datetime.date(2020, 1, 1))
    close = datetime.date(2025, 2, 10)
    deal = won_deal(partner, "1000.00", closed_on=close, line=cloud)
    incentive_services.calculate_deal(deal_id=deal.pk, as_of=datetime.date(2025, 2, 20))
    (entry,) = events_of("ledger.entry_created", partner_id=partner.pk)
    assert entry.data["program_id"] == program.pk and Decimal(entry.data["amount"]) > 0
    assert_documented(entry)

    incentive_services.period_close(period=quarter_of(close), as_of=datetime.date(2025, 4, 10))
    (closed,) = events_of("statement.closed", partner_id=partner.pk)
    assert closed.data["period"] == "2025-Q1" and closed.data["entries"] == 1
    assert_documented(closed)
    incentive_services.period_close(period=quarter_of(close), as_of=datetime.date(2025, 4, 11))
    assert len(events_of("statement.closed")) == 1  # closing again closes nothing new


def test_gate_and_tier_events_from_the_evaluation(db):
    ladder = Ladder()
    partner = PartnerFactory()
    certifications = ladder.certify(partner, 3)
    gate_services.evaluate(as_of=TODAY)
    passed = {event.data["gate_name"] for event in events_of("gate.passed", partner_id=partner.pk)}
    assert passed == {"Silver gate", "Gold gate"}
    (promoted,) = events_of("tier.changed", partner_id=partner.pk)
    assert promoted.data["to_tier_name"] == "Gold" and promoted.program_id == ladder.program.pk

    certifications[0].delete()
    start = TODAY + datetime.timedelta(days=1)
    gate_services.evaluate(as_of=start)
    (failed,) = events_of("gate.failed", partner_id=partner.pk)
    assert failed.data["gate_name"] == "Gold gate" and failed.data["to_status"] == "failed"
    (grace,) = events_of("tier.grace_started", partner_id=partner.pk)
    assert grace.data["from_tier_name"] == "Gold"

    gate_services.evaluate(as_of=start + datetime.timedelta(days=91))
    (ended,) = events_of("tier.grace_ended", partner_id=partner.pk)
    assert ended.data["reason"] == "demoted"
    demoted = events_of("tier.changed", partner_id=partner.pk)[-1]
    assert (demoted.data["from_tier_name"], demoted.data["to_tier_name"]) == ("Gold", "Silver")
    for event in (*events_of("gate.passed"), promoted, failed, grace, ended, demoted):
        assert_documented(event)


def test_at_risk_and_recovered_from_the_forecast(db):
    """A certification expiring within the horizon puts the gold gate at risk; a renewal ends it."""
    ladder = Ladder()
    partner = PartnerFactory()
    expiring = ladder.certify(partner, 1, expires_on=TODAY + datetime.timedelta(days=20))[0]
    ladder.certify(partner, 2)
    gate_services.evaluate(as_of=TODAY, notify=False)
    forecasts_refresh(as_of=TODAY, notify=False)
    (at_risk,) = events_of("gate.at_risk", partner_id=partner.pk)
    assert at_risk.data["gate_name"] == "Gold gate"
    assert at_risk.data["fails_on"] == (TODAY + datetime.timedelta(days=21)).isoformat()
    assert at_risk.data["shortfall"]
    assert "renew" in at_risk.data["fix"].lower() or "certify" in at_risk.data["fix"].lower()
    # The gold tier's 90 days of grace start the day the gate fails; the tier goes the day after.
    assert (at_risk.data["tier_id"], at_risk.data["tier_name"]) == (ladder.gold.pk, "Gold")
    assert at_risk.data["tier_lost_on"] == (TODAY + datetime.timedelta(days=21 + 91)).isoformat()
    assert at_risk.data["override_until"] is None and at_risk.data["grace_until"] is None
    assert not events_of("gate.recovered")

    expiring.expires_on = None
    expiring.save()
    forecasts_refresh(as_of=TODAY + datetime.timedelta(days=1), notify=False)
    (recovered,) = events_of("gate.recovered", partner_id=partner.pk)
    assert recovered.data["gate_name"] == "Gold gate" and recovered.data["fails_on"] is None
    for event in (at_risk, recovered):
        assert_documented(event)


def test_a_tier_set_by_hand_is_a_tier_change(db, superuser):
    ladder = Ladder()
    partner = PartnerFactory()
    gate_services.tier_override_set(
        actor=superuser,
        partner=partner,
        program=ladder.program,
        tier=ladder.gold,
        reason="Strategic",
        expires_on=None,
    )
    (changed,) = events_of("tier.changed", partner_id=partner.pk, reason="override_set")
    assert changed.data["to_tier_name"] == "Gold"
    assert_documented(changed)


def test_a_nightly_run_records_its_events_with_one_insert_per_chunk(db, settings):
    settings.PRM_EVALUATION_CHUNK_SIZE = 1000
    ladder = Ladder()
    partners = [PartnerFactory() for _ in range(40)]
    for partner in partners:
        ladder.certify(partner, 1)
    with CaptureQueriesContext(connection) as queries:
        summary = gate_services.evaluate(as_of=TODAY)
    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "events_outboxevent"')]
    assert summary.statuses_changed == 40
    assert len(inserts) == 1
    assert len(events_of("gate.passed")) == 40 and len(events_of("tier.changed")) == 40
