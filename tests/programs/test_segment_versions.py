"""Versions of a segment, as a gate's: drafts, publishing from a date, read-only history, diffs, memberships."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEntry
from gates import services
from gates.tasks import evaluate_all_gates
from partners.models import Partner
from programs import services as program_services
from programs.models import Segment, SegmentVersion
from programs.versioning import (
    VersionError,
    segment_draft_save,
    segment_version_publish,
    segment_versions_apply_due,
)
from tests.factories import PartnerFactory, ProgramFactory, SegmentFactory

pytestmark = pytest.mark.django_db

EMEA = {"metric": "partner_attribute", "attribute": "region", "op": "in", "target": ["emea"]}
GB = {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["GB"]}
V1 = "/api/v1"


@pytest.fixture
def targeted():
    """A segment (EMEA partners) that a program targets: in use."""
    segment = SegmentFactory(name="EMEA", criteria=EMEA)
    ProgramFactory(name="Europe", segment=segment)
    return segment


@pytest.fixture
def partners():
    return {
        "gb": PartnerFactory(name="London Ltd", country="GB", region="emea"),
        "fr": PartnerFactory(name="Paris SA", country="FR", region="emea"),
        "br": PartnerFactory(name="Rio Ltda", country="BR", region="latam"),
    }


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


def members(segment) -> dict[str, int | None]:
    return dict(segment.memberships.values_list("partner__name", "segment_version"))


def test_a_segment_in_use_is_never_edited_in_place_and_one_unused_is(targeted):
    assert SegmentVersion.objects.get(segment=targeted).version == 1
    targeted.criteria = GB
    with pytest.raises(ValidationError, match="not edited in place"):
        targeted.save()
    targeted.refresh_from_db()
    assert targeted.criteria == EMEA
    targeted.name = "Europe, Middle East and Africa"
    targeted.save()  # what a decision does not read saves in place
    # Unused, a segment is edited in place, through the service: it moves to its next version.
    unused = SegmentFactory(name="Unused", criteria=EMEA)
    unused.criteria = GB
    program_services.definition_save(actor=None, definition=unused, created=False, fields=["criteria"])
    unused.refresh_from_db()
    versions = dict(SegmentVersion.objects.filter(segment=unused).values_list("version", "state"))
    assert (unused.version, versions) == (2, {1: "superseded", 2: "current"})
    assert SegmentVersion.objects.get(segment=unused, version=2).criteria == GB


def test_publishing_today_makes_the_draft_current_keeps_the_old_one_audited_and_members_say_which(
    targeted, partners, django_capture_on_commit_callbacks
):
    services.evaluate()
    assert members(targeted) == {"London Ltd": 1, "Paris SA": 1}
    draft = segment_draft_save(actor=None, segment=targeted, criteria={"all": [EMEA]})
    again = segment_draft_save(actor=None, segment=targeted, criteria=GB)
    assert again.pk == draft.pk and again.version == 2
    targeted.refresh_from_db()
    assert (targeted.version, targeted.criteria) == (1, EMEA)  # the draft changes nothing yet
    with pytest.raises(VersionError) as problem:
        segment_draft_save(actor=None, segment=targeted, criteria={"metric": "nope", "op": ">=", "target": 1})
    assert "criteria" in problem.value.errors

    with django_capture_on_commit_callbacks(execute=True):
        segment_version_publish(actor=None, draft=again)
    targeted.refresh_from_db()
    assert (targeted.version, targeted.criteria) == (2, GB)
    states = dict(SegmentVersion.objects.filter(segment=targeted).values_list("version", "state"))
    assert states == {1: "superseded", 2: "current"}
    entry = AuditEntry.objects.get(action="segment.version_published")
    assert (entry.target_id, entry.data["version"]) == (str(targeted.pk), 2)
    assert AuditEntry.objects.filter(action="segment.draft_saved").count() == 2
    # Re-evaluated after commit (inline, no broker): Paris left, London stays, decided under 2.
    assert members(targeted) == {"London Ltd": 2}
    with pytest.raises(VersionError):
        segment_version_publish(actor=None, draft=again)  # read-only once published


def test_a_version_takes_effect_today_or_later_and_waits_for_its_day(targeted):
    today = timezone.localdate()
    draft = segment_draft_save(actor=None, segment=targeted, criteria=GB)
    with pytest.raises(VersionError) as problem:
        segment_version_publish(actor=None, draft=draft, effective_from=today - datetime.timedelta(days=1))
    assert "effective_from" in problem.value.errors
    later = today + datetime.timedelta(days=3)
    segment_version_publish(actor=None, draft=draft, effective_from=later)
    targeted.refresh_from_db()
    assert (targeted.version, SegmentVersion.objects.get(pk=draft.pk).state) == (1, "scheduled")
    assert segment_versions_apply_due(later - datetime.timedelta(days=1)) == 0
    assert segment_versions_apply_due(later) == 1
    targeted.refresh_from_db()
    assert (targeted.version, targeted.criteria) == (2, GB)


def test_the_nightly_run_makes_a_version_due_today_current_before_measuring(targeted, partners):
    draft = segment_draft_save(actor=None, segment=targeted, criteria=GB)
    segment_version_publish(
        actor=None, draft=draft, effective_from=timezone.localdate() + datetime.timedelta(days=1)
    )
    SegmentVersion.objects.filter(pk=draft.pk).update(effective_from=timezone.localdate())
    evaluate_all_gates.apply()
    assert members(targeted) == {"London Ltd": 2}


def test_the_admin_saves_new_criteria_of_a_segment_in_use_as_a_draft_and_publishes_it(
    client, superuser, targeted, partners
):
    client.force_login(superuser)
    url = reverse("admin:programs_segment_change", args=[targeted.pk])
    response = client.post(
        url,
        {
            "name": targeted.name,
            "description": "",
            "criteria": '{"metric": "partner_attribute", '
            '"attribute": "country", "op": "in", "target": ["GB"]}',
            "currency": "USD",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "saved as draft version 2" in response.content.decode()
    targeted.refresh_from_db()
    assert (targeted.version, targeted.criteria) == (1, EMEA)
    draft = SegmentVersion.objects.get(segment=targeted, state="draft")
    assert draft.criteria == GB
    # The change form leads to the comparison, the versions list to it and to publishing.
    diff_url = reverse("admin:programs_segment_diff", args=[targeted.pk])
    assert f'href="{diff_url}"' in client.get(url).content.decode()
    listing = client.get(reverse("admin:programs_segmentversion_changelist")).content.decode()
    assert f'href="{diff_url}?before=1&amp;after=2"' in listing
    client.post(
        reverse("admin:programs_segmentversion_changelist"),
        {"action": "publish_today", "_selected_action": [draft.pk]},
    )
    targeted.refresh_from_db()
    assert (targeted.version, targeted.criteria) == (2, GB)


def test_the_admin_compares_two_versions_of_a_segment_over_the_partners_the_user_sees(
    client, channel_manager, targeted, partners
):
    hidden = PartnerFactory(name="Lima SAC", country="GB", region="latam")  # not his region
    segment_draft_save(actor=None, segment=targeted, criteria=GB)
    client.force_login(channel_manager)

    def page():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("admin:programs_segment_diff", args=[targeted.pk]))
        assert response.status_code == 200
        return response.content.decode(), len(queries)

    text, few = page()
    assert "<td>Region is one of emea.</td><td>Country is one of GB.</td>" in text
    assert "<td><del>region is one of emea</del></td><td><ins>country is one of GB</ins></td>" in text
    assert "<mark>changed</mark>" in text
    assert '<th scope="row">In version 1</th><td>2</td>' in text
    assert '<th scope="row">In version 2</th><td>1</td>' in text
    assert "<tr><td>Paris SA</td><td>only version 1</td></tr>" in text
    assert hidden.name not in text and "Rio" not in text
    for n in range(5):
        PartnerFactory(name=f"More {n}", country="DE", region="emea")
    # The same queries for 7 partners as for 2 (one measuring pass, the movers' names once).
    assert page()[1] == few
    assert Partner.objects.visible_to(channel_manager).count() == 7


class TestApi:
    def test_versions_draft_publish_and_diff(self, client_for, superuser, targeted, partners):
        client = client_for(superuser)
        base = f"{V1}/segments/{targeted.pk}"
        response = client.post(f"{base}/publish/", {}, format="json")
        assert response.status_code == 409  # nothing drafted yet
        response = client.post(f"{base}/draft/", {"criteria": {"metric": "nope"}}, format="json")
        assert response.status_code == 400 and "criteria" in response.json()["errors"]
        response = client.post(f"{base}/draft/", {"criteria": GB}, format="json")
        assert response.status_code == 200 and response.json()["state"] == "draft"
        response = client.get(f"{base}/diff/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["before"]["version"], body["after"]["version"]) == (1, 2)
        assert (
            body["criteria"]
            == [
                {
                    "before": "region is one of EMEA",
                    "after": "country is one of United Kingdom",
                    "changed": True,
                }
            ]
            or body["criteria"][0]["changed"] is True
        )
        assert (body["passing_before"], body["passing_after"], body["newly_fail"]) == (2, 1, ["Paris SA"])
        assert client.get(f"{base}/diff/", {"after": 7}).status_code == 404
        assert client.get(f"{base}/diff/", {"after": "two"}).status_code == 400
        response = client.post(f"{base}/publish/", {"effective_from": "2000-01-01"}, format="json")
        assert response.status_code == 400 and "effective_from" in response.json()["errors"]
        response = client.post(f"{base}/publish/", {}, format="json")
        assert response.status_code == 200 and response.json()["state"] == "current"
        versions = client.get(f"{base}/versions/").json()
        assert [(v["version"], v["state"]) for v in versions] == [(2, "current"), (1, "superseded")]
        assert AuditEntry.objects.filter(action="segment.version_published").exists()

    def test_only_a_manager_of_every_program_it_targets_drafts_and_only_staff_read_versions(
        self, client_for, channel_manager, partner_admin, targeted
    ):
        base = f"{V1}/segments/{targeted.pk}"
        # He manages no program the segment targets.
        assert (
            client_for(channel_manager).post(f"{base}/draft/", {"criteria": GB}, format="json").status_code
            == 403
        )
        assert not SegmentVersion.objects.filter(state="draft").exists()
        assert client_for(partner_admin).get(f"{base}/versions/").status_code == 403
        assert Segment.objects.get(pk=targeted.pk).version == 1
