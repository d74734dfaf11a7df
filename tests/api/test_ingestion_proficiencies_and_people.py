"""Bulk ingestion of service proficiencies and of people: the same envelope, report and rules as sales."""

import datetime
from unittest import mock

import pytest
from django.core.validators import validate_email
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import AuditEntry
from partners import ingestion
from partners.models import Person, ServiceProficiency
from tests.factories import PartnerFactory, PersonFactory, ServiceOfferingFactory, ServiceProficiencyFactory

pytestmark = pytest.mark.django_db

PROFICIENCIES = "/api/v1/proficiencies/bulk/"
PEOPLE = "/api/v1/people/bulk/"
TODAY = timezone.localdate()
LAST_MONTH = (TODAY - datetime.timedelta(days=30)).isoformat()
UNKNOWN_PARTNER = 987654
# A channel manager's session and scope: session, user, user and group permissions, his regions.
SESSION_AND_SCOPE = 5
# The batch's savepoint and source lock; then the write's savepoint, one insert, its release,
# the audit entry and the batch's release.
LOCK = 2
WRITE = 5


@pytest.fixture
def offerings(db):
    return {code: ServiceOfferingFactory(code=code) for code in ("migration", "managed-soc", "assessment")}


@pytest.fixture
def manager_client(client_for, channel_manager):
    return client_for(channel_manager)


def post(client, url, records, source="crm"):
    return client.post(url, {"source": source, "records": records}, format="json")


def results_by_id(response):
    assert response.status_code == 200, response.content
    return {row["external_id"]: row for row in response.json()["results"]}


def proficiency(external_id, partner, **overrides):
    record = {
        "external_id": external_id,
        "partner": partner if isinstance(partner, int) else partner.pk,
        "offering": "migration",
        "level": 2,
        "since": LAST_MONTH,
    }
    return record | overrides


def person(external_id, partner, **overrides):
    partner_id = partner if isinstance(partner, int) else partner.pk
    record = {
        "external_id": external_id,
        "partner": partner_id,
        "email": f"{external_id}@acme.example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "job_title": "Sales engineer",
    }
    return record | overrides


class TestProficiencies:
    def test_a_batch_creates_every_record_and_reports_each(self, manager_client, partner, offerings):
        response = post(
            manager_client,
            PROFICIENCIES,
            [proficiency("p-1", partner), proficiency("p-2", partner, offering="managed-soc", level=3)],
        )

        assert response.status_code == 200, response.content
        report = response.json()
        assert report | {"results": None} == {
            "kind": "proficiencies",
            "source": "crm",
            "received": 2,
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
            "results": None,
        }
        stored = {p.external_id: p for p in ServiceProficiency.objects.filter(source="crm")}
        assert [row["id"] for row in report["results"]] == [stored["p-1"].pk, stored["p-2"].pk]
        assert (stored["p-2"].partner, stored["p-2"].offering.code, stored["p-2"].level) == (
            partner,
            "managed-soc",
            3,
        )
        assert stored["p-1"].since == datetime.date.fromisoformat(LAST_MONTH)
        # When each was first stored, for replays "as known then".
        assert stored["p-1"].created_at is not None and stored["p-1"].created_at <= timezone.now()
        # The list the API already had shows them.
        listed = manager_client.get("/api/v1/proficiencies/", {"partner": partner.pk}).json()["results"]
        assert {row["external_id"] for row in listed} == {"p-1", "p-2"}

    def test_resending_the_same_batch_changes_nothing(self, manager_client, partner, offerings):
        batch = [proficiency("p-1", partner), proficiency("p-2", partner, offering="assessment")]
        first = post(manager_client, PROFICIENCIES, batch)
        before = list(ServiceProficiency.objects.order_by("id").values())

        again = post(manager_client, PROFICIENCIES, batch)

        assert (again.json()["unchanged"], again.json()["created"], again.json()["updated"]) == (2, 0, 0)
        assert [row["result"] for row in again.json()["results"]] == ["unchanged", "unchanged"]
        assert [row["id"] for row in again.json()["results"]] == [
            row["id"] for row in first.json()["results"]
        ]
        assert list(ServiceProficiency.objects.order_by("id").values()) == before

    def test_a_changed_record_updates_the_stored_proficiency(self, manager_client, partner, offerings):
        post(
            manager_client,
            PROFICIENCIES,
            [proficiency("p-1", partner), proficiency("p-2", partner, offering="assessment")],
        )
        stamp = ServiceProficiency.objects.get(external_id="p-1").updated_at

        response = post(
            manager_client,
            PROFICIENCIES,
            [proficiency("p-1", partner, level=3), proficiency("p-2", partner, offering="assessment")],
        )

        rows = results_by_id(response)
        assert (rows["p-1"]["result"], rows["p-2"]["result"]) == ("updated", "unchanged")
        changed = ServiceProficiency.objects.get(external_id="p-1")
        assert changed.level == 3 and changed.updated_at > stamp
        assert ServiceProficiency.objects.count() == 2

    def test_bad_records_are_rejected_with_reasons_and_the_good_ones_kept(
        self, manager_client, partner, other_partner, offerings
    ):
        records = [
            proficiency("good-1", partner),
            proficiency("unknown-partner", UNKNOWN_PARTNER),
            proficiency("hidden-partner", other_partner),
            proficiency("unknown-offering", partner, offering="astrology"),
            proficiency("bad-level", partner, offering="assessment", level=7),
            proficiency("text-level", partner, offering="assessment", level="expert"),
            proficiency(
                "future",
                partner,
                offering="assessment",
                since=(TODAY + datetime.timedelta(days=9)).isoformat(),
            ),
            proficiency("not-a-date", partner, offering="assessment", since="2025-02-30"),
            proficiency("extra", partner, offering="assessment", colour="red"),
            proficiency("good-1", partner, offering="managed-soc"),
            proficiency("same-offering", partner),
            proficiency("good-2", partner, offering="assessment"),
        ]

        response = post(manager_client, PROFICIENCIES, records)

        report = response.json()
        assert (report["created"], report["rejected"]) == (2, len(records) - 2)
        errors = {row["index"]: row.get("errors") for row in report["results"]}
        assert errors[0] is None and errors[11] is None
        refused_partner = {"partner": ["No partner with this id that you may send facts for."]}
        assert errors[1] == refused_partner
        assert errors[2] == refused_partner  # the same words: its existence is not confirmed
        assert errors[3] == {"offering": ["No service offering has the code 'astrology'."]}
        level = {"level": ["Expected a level: 1 (foundational), 2 (proficient), 3 (expert)."]}
        assert errors[4] == level and errors[5] == level
        assert errors[6] == {"since": ["A fact cannot be dated in the future."]}
        assert errors[7] == {"since": ["This is not a date in the calendar."]}
        assert errors[8] == {"non_field_errors": ["Unknown field(s): colour."]}
        assert errors[9] == {"external_id": ["The same external id is already in this batch at index 0."]}
        assert errors[10] == {
            "offering": ["The same partner and offering are already in this batch at index 0."]
        }
        assert set(ServiceProficiency.objects.values_list("external_id", flat=True)) == {"good-1", "good-2"}

    def test_an_offering_the_partner_holds_under_another_record_is_refused(
        self, manager_client, partner, offerings
    ):
        by_hand = ServiceProficiencyFactory(partner=partner, offering=offerings["migration"], level=1)

        rows = results_by_id(post(manager_client, PROFICIENCIES, [proficiency("p-1", partner, level=3)]))

        assert rows["p-1"]["errors"] == {
            "offering": [
                "The partner already has a proficiency in this offering under another record; "
                "change or delete that one."
            ]
        }
        by_hand.refresh_from_db()
        assert (by_hand.level, by_hand.source, by_hand.external_id) == (1, "manual", "")

    def test_a_record_of_a_partner_the_caller_cannot_see_is_never_overwritten(
        self, manager_client, partner, other_partner, offerings
    ):
        foreign = ServiceProficiencyFactory(
            partner=other_partner, offering=offerings["migration"], source="crm", external_id="p-1", level=1
        )

        rows = results_by_id(post(manager_client, PROFICIENCIES, [proficiency("p-1", partner, level=3)]))

        assert rows["p-1"]["errors"] == {
            "external_id": ["This external id belongs to a record you may not change."]
        }
        foreign.refresh_from_db()
        assert (foreign.partner_id, foreign.level) == (other_partner.pk, 1)

    def test_a_token_narrowed_to_some_partners_sends_for_those_only(
        self, superuser, issue_token, token_client, partner, other_partner, offerings
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[partner])

        rows = results_by_id(
            post(
                token_client(secret),
                PROFICIENCIES,
                [proficiency("mine", partner), proficiency("theirs", other_partner)],
            )
        )

        assert rows["mine"]["result"] == "created"
        assert rows["theirs"]["errors"] == {
            "partner": ["No partner with this id that you may send facts for."]
        }
        assert list(ServiceProficiency.objects.values_list("partner_id", flat=True)) == [partner.pk]

    def test_a_changed_proficiency_reevaluates_its_partner_once_and_an_unchanged_one_not(
        self, manager_client, partner, offerings, django_capture_on_commit_callbacks
    ):
        with (
            mock.patch("gates.tasks.evaluate_partners_task.apply_async") as queued,
            django_capture_on_commit_callbacks(execute=True),
        ):
            post(
                manager_client,
                PROFICIENCIES,
                [proficiency("p-1", partner), proficiency("p-2", partner, offering="assessment")],
            )
        assert queued.call_count == 1
        assert queued.call_args.kwargs["args"] == ([partner.pk],)

        with django_capture_on_commit_callbacks() as callbacks:
            post(manager_client, PROFICIENCIES, [proficiency("p-1", partner)])
        assert callbacks == []

    def test_a_crash_after_writing_leaves_nothing_half_written(self, channel_manager, partner, offerings):
        existing = ServiceProficiencyFactory(
            partner=partner, offering=offerings["assessment"], source="crm", external_id="p-0", level=1
        )
        records = [proficiency("p-0", partner, offering="assessment", level=3), proficiency("p-1", partner)]
        with (
            mock.patch.object(AuditEntry.objects, "create", side_effect=RuntimeError("worker killed")),
            pytest.raises(RuntimeError),
        ):
            ingestion.ingest_proficiencies(actor=channel_manager, source="crm", records=records)

        assert list(ServiceProficiency.objects.values_list("external_id", "level")) == [("p-0", 1)]
        existing.refresh_from_db()
        assert existing.level == 1

    def test_every_batch_is_audited_with_its_counts(
        self, manager_client, channel_manager, partner, offerings
    ):
        post(
            manager_client, PROFICIENCIES, [proficiency("p-1", partner), proficiency("bad", partner, level=0)]
        )

        entry = AuditEntry.objects.get(action="proficiencies.ingested")
        assert (entry.actor, entry.target_id) == (channel_manager, "crm")
        assert entry.data == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}

    def test_the_queries_do_not_grow_with_the_batch(self, manager_client, offerings):
        """Session and scope, the lock; the stored records, the partners, the offerings and who
        holds them (4 look-ups); one insert and the audit: the same for 2 records as for 20."""
        partners = [PartnerFactory(region="emea") for _ in range(20)]

        def queries(size, offering):
            records = [proficiency(f"p-{n}", partners[n], offering=offering) for n in range(size)]
            with CaptureQueriesContext(connection) as captured:
                response = post(manager_client, PROFICIENCIES, records, source=offering)
            assert response.json()["created"] == size, response.content
            return len(captured)

        small, large = queries(2, "migration"), queries(20, "assessment")
        assert small == large == SESSION_AND_SCOPE + LOCK + 4 + WRITE


class TestPeople:
    def test_a_batch_creates_every_person_and_reports_each(self, manager_client, partner):
        response = post(
            manager_client,
            PEOPLE,
            [person("e-1", partner, email="Ada@Acme.example.com"), person("e-2", partner, is_active=False)],
            source="hr",
        )

        assert response.status_code == 200, response.content
        report = response.json()
        assert (report["kind"], report["source"], report["created"], report["rejected"]) == (
            "people",
            "hr",
            2,
            0,
        )
        stored = {p.external_id: p for p in Person.objects.filter(partner=partner)}
        assert [row["id"] for row in report["results"]] == [stored["e-1"].pk, stored["e-2"].pk]
        ada = stored["e-1"]
        assert (ada.email, ada.first_name, ada.last_name, ada.job_title, ada.is_active) == (
            "ada@acme.example.com",
            "Ada",
            "Lovelace",
            "Sales engineer",
            True,
        )
        assert stored["e-2"].is_active is False
        assert ada.updated_at is not None and ada.created_at is not None

    def test_resending_the_same_batch_changes_nothing(self, manager_client, partner):
        batch = [person("e-1", partner), person("e-2", partner)]
        first = post(manager_client, PEOPLE, batch)
        before = list(Person.objects.order_by("id").values())

        again = post(manager_client, PEOPLE, batch)
        # A person is one person whichever system sends them.
        elsewhere = post(manager_client, PEOPLE, batch, source="lms")

        assert again.json()["unchanged"] == 2 and elsewhere.json()["unchanged"] == 2
        assert [row["id"] for row in again.json()["results"]] == [
            row["id"] for row in first.json()["results"]
        ]
        assert list(Person.objects.order_by("id").values()) == before

    def test_a_changed_record_updates_the_person_and_stamps_it(self, manager_client, partner):
        post(manager_client, PEOPLE, [person("e-1", partner), person("e-2", partner)])
        stamp = Person.objects.get(external_id="e-1").updated_at

        response = post(
            manager_client, PEOPLE, [person("e-1", partner, job_title="Architect"), person("e-2", partner)]
        )

        rows = results_by_id(response)
        assert (rows["e-1"]["result"], rows["e-2"]["result"]) == ("updated", "unchanged")
        changed = Person.objects.get(external_id="e-1")
        assert changed.job_title == "Architect" and changed.updated_at > stamp
        assert Person.objects.filter(partner=partner).count() == 2

    def test_a_person_without_an_external_id_is_found_by_email(self, manager_client, partner):
        known = PersonFactory(partner=partner, email="Ada.Lovelace@acme.example.com", first_name="A")

        rows = results_by_id(
            post(manager_client, PEOPLE, [person("e-1", partner, email="ada.lovelace@acme.example.com")])
        )

        assert rows["e-1"] == {"index": 0, "external_id": "e-1", "result": "updated", "id": known.pk}
        known.refresh_from_db()
        # The address is the same in any case: its spelling is kept.
        assert (known.external_id, known.first_name, known.email) == (
            "e-1",
            "Ada",
            "Ada.Lovelace@acme.example.com",
        )
        assert Person.objects.filter(partner=partner).count() == 1

    def test_a_person_under_another_external_id_is_never_taken_over(self, manager_client, partner):
        PersonFactory(partner=partner, email="ada@acme.example.com", external_id="hr-9")
        PersonFactory(partner=partner, email="bob@acme.example.com", external_id="e-2")

        rows = results_by_id(
            post(
                manager_client,
                PEOPLE,
                [
                    person("e-1", partner, email="ada@acme.example.com"),
                    person("e-2", partner, email="ada@acme.example.com"),
                ],
            )
        )

        taken = {"email": ["Another person of this partner has this e-mail, under another external id."]}
        assert rows["e-1"]["errors"] == taken  # a new external id
        assert rows["e-2"]["errors"] == taken  # a known one, moving to a colleague's address
        assert sorted(Person.objects.values_list("external_id", "email")) == [
            ("e-2", "bob@acme.example.com"),
            ("hr-9", "ada@acme.example.com"),
        ]

    def test_the_same_external_id_at_two_partners_is_two_people(
        self, client_for, superuser, partner, other_partner
    ):
        rows = post(
            client_for(superuser), PEOPLE, [person("e-1", partner), person("e-1", other_partner)]
        ).json()

        assert [row["result"] for row in rows["results"]] == ["created", "created"]
        assert Person.objects.filter(external_id="e-1").count() == 2

    def test_bad_records_are_rejected_with_reasons_and_the_good_ones_kept(
        self, manager_client, partner, other_partner
    ):
        records = [
            person("good-1", partner),
            person("unknown-partner", UNKNOWN_PARTNER),
            person("hidden-partner", other_partner),
            person("bad-email", partner, email="not-an-email"),
            person("no-name", partner, first_name="", last_name=None),
            person("bad-active", partner, is_active="yes"),
            person("long-title", partner, job_title="x" * 121),
            person("extra", partner, user=1),
            person("good-1", partner, email="other@acme.example.com"),
            person("same-email", partner, email="good-1@acme.example.com"),
            person("good-2", partner),
        ]

        response = post(manager_client, PEOPLE, records)

        report = response.json()
        assert (report["created"], report["rejected"]) == (2, len(records) - 2)
        errors = {row["index"]: row.get("errors") for row in report["results"]}
        assert errors[0] is None and errors[10] is None
        refused_partner = {"partner": ["No partner with this id that you may send facts for."]}
        assert errors[1] == refused_partner and errors[2] == refused_partner
        assert errors[3] == {"email": [str(validate_email.message)]}  # the admin's and the portal's words
        assert errors[4] == {
            "first_name": ["This field is required."],
            "last_name": ["This field is required."],
        }
        assert errors[5] == {"is_active": ["Expected true or false."]}
        assert errors[6] == {"job_title": ["At most 120 characters."]}
        assert errors[7] == {"non_field_errors": ["Unknown field(s): user."]}
        assert errors[8] == {"external_id": ["The same external id is already in this batch at index 0."]}
        assert errors[9] == {
            "email": ["The same e-mail for this partner is already in this batch at index 0."]
        }
        assert set(Person.objects.values_list("external_id", flat=True)) == {"good-1", "good-2"}

    def test_a_token_narrowed_to_some_partners_sends_for_those_only(
        self, superuser, issue_token, token_client, partner, other_partner
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[partner])

        rows = results_by_id(
            post(token_client(secret), PEOPLE, [person("mine", partner), person("theirs", other_partner)])
        )

        assert rows["mine"]["result"] == "created"
        assert rows["theirs"]["errors"] == {
            "partner": ["No partner with this id that you may send facts for."]
        }
        assert not Person.objects.filter(partner=other_partner).exists()

    def test_only_a_change_of_activity_reevaluates_the_partner(
        self, manager_client, partner, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as created:
            post(manager_client, PEOPLE, [person("e-1", partner)])  # holds no certification yet
        with django_capture_on_commit_callbacks() as renamed:
            post(manager_client, PEOPLE, [person("e-1", partner, last_name="Byron")])
        with (
            mock.patch("gates.tasks.evaluate_partners_task.apply_async") as queued,
            django_capture_on_commit_callbacks(execute=True) as deactivated,
        ):
            response = post(
                manager_client, PEOPLE, [person("e-1", partner, last_name="Byron", is_active=False)]
            )

        assert response.json()["updated"] == 1
        assert created == [] and renamed == []
        assert len(deactivated) == 1
        assert queued.call_args.kwargs["args"] == ([partner.pk],)

    def test_a_crash_after_writing_leaves_nothing_half_written(self, channel_manager, partner):
        known = PersonFactory(
            partner=partner, email="known@acme.example.com", external_id="e-0", job_title=""
        )
        records = [person("e-0", partner, email="known@acme.example.com"), person("e-1", partner)]
        with (
            mock.patch.object(AuditEntry.objects, "create", side_effect=RuntimeError("worker killed")),
            pytest.raises(RuntimeError),
        ):
            ingestion.ingest_people(actor=channel_manager, source="hr", records=records)

        assert list(Person.objects.values_list("external_id", flat=True)) == ["e-0"]
        known.refresh_from_db()
        assert (known.first_name, known.job_title) == ("Sam", "")

    def test_the_queries_do_not_grow_with_the_batch(self, manager_client):
        """Session and scope, the lock; the stored people, the partners and the people by e-mail
        (3 look-ups); one insert and the audit: the same for 2 records as for 20."""
        partners = [PartnerFactory(region="emea") for _ in range(20)]

        def queries(size, prefix):
            records = [person(f"{prefix}-{n}", partners[n]) for n in range(size)]
            with CaptureQueriesContext(connection) as captured:
                response = post(manager_client, PEOPLE, records)
            assert response.json()["created"] == size, response.content
            return len(captured)

        small, large = queries(2, "small"), queries(20, "large")
        assert small == large == SESSION_AND_SCOPE + LOCK + 3 + WRITE


class TestPeopleUpdatedSince:
    def test_every_write_stamps_the_person(self, channel_manager, partner):
        person_row = PersonFactory(partner=partner)
        created = person_row.updated_at
        person_row.job_title = "Engineer"
        person_row.save()

        assert created is not None and person_row.updated_at > created

    def test_the_list_gives_the_people_changed_since_a_moment(self, manager_client, partner):
        old = PersonFactory(partner=partner, external_id="old")
        recent = PersonFactory(partner=partner, external_id="recent")
        long_ago = timezone.now() - datetime.timedelta(days=10)
        Person.objects.filter(pk=old.pk).update(updated_at=long_ago)
        since = (timezone.now() - datetime.timedelta(days=1)).isoformat()

        listed = manager_client.get("/api/v1/people/", {"updated_since": since})
        everyone = manager_client.get("/api/v1/people/", {"updated_since": long_ago.isoformat()})

        assert listed.status_code == 200, listed.content
        assert [row["id"] for row in listed.json()["results"]] == [recent.pk]
        assert listed.json()["results"][0]["updated_at"]
        assert {row["id"] for row in everyone.json()["results"]} >= {old.pk, recent.pk}

    def test_a_bulk_update_brings_the_person_back_into_the_list(self, manager_client, partner):
        post(manager_client, PEOPLE, [person("e-1", partner), person("e-2", partner)])
        long_ago = timezone.now() - datetime.timedelta(days=10)
        Person.objects.update(updated_at=long_ago)
        since = (timezone.now() - datetime.timedelta(minutes=1)).isoformat()

        post(manager_client, PEOPLE, [person("e-1", partner, job_title="Architect"), person("e-2", partner)])

        listed = manager_client.get("/api/v1/people/", {"updated_since": since}).json()["results"]
        assert [row["external_id"] for row in listed] == ["e-1"]

    def test_a_malformed_moment_answers_400(self, manager_client):
        response = manager_client.get("/api/v1/people/", {"updated_since": "yesterday"})

        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"updated_since"}
