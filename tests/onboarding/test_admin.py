"""Deciding applications in the admin: the change page's buttons, the reason asked, the coverage kept."""

import pytest
from django.urls import reverse

from onboarding import services
from onboarding.models import ApplicationStatus, ChecklistItemKind, ChecklistTick
from partners.models import LifecycleStatus, Partner
from tests.onboarding.helpers import application_fields, program_with_checklist

pytestmark = pytest.mark.django_db


def _submit(**overrides):
    return services.application_submit(address=None, programs=[], **application_fields(**overrides))


def _decide(application, verb: str) -> str:
    return reverse(f"admin:onboarding_partnerapplication_{verb}", args=[application.pk])


def test_the_change_page_offers_the_decision_to_a_manager_covering_it(client, channel_manager):
    application = _submit()
    client.force_login(channel_manager)
    content = client.get(
        reverse("admin:onboarding_partnerapplication_change", args=[application.pk])
    ).content.decode()
    assert _decide(application, "accept") in content and _decide(application, "decline") in content


def test_accepting_asks_for_a_reason_then_creates_the_partner(client, channel_manager):
    application = _submit()
    client.force_login(channel_manager)
    assert client.get(_decide(application, "accept")).status_code == 200
    response = client.post(_decide(application, "accept"), {"reason": ""})
    assert response.status_code == 200 and response.context["form"].errors["reason"]
    response = client.post(_decide(application, "accept"), {"reason": "Strong services team."})
    assert response.status_code == 302
    partner = Partner.objects.get(name="Newco Integrations")
    assert partner.status == LifecycleStatus.ONBOARDING
    # Decided, the buttons are gone and the decision pages refuse.
    content = client.get(
        reverse("admin:onboarding_partnerapplication_change", args=[application.pk])
    ).content.decode()
    assert _decide(application, "accept") not in content
    assert client.get(_decide(application, "decline")).status_code == 403


def test_declining_from_the_admin(client, channel_manager):
    application = _submit()
    client.force_login(channel_manager)
    client.post(_decide(application, "decline"), {"reason": "Outside our markets."})
    application.refresh_from_db()
    assert (application.status, application.decision_reason) == (
        ApplicationStatus.DECLINED,
        "Outside our markets.",
    )


def test_a_taken_email_is_shown_on_the_decision_page(client, channel_manager, partner_admin):
    application = _submit(contact_email=partner_admin.email)
    client.force_login(channel_manager)
    response = client.post(_decide(application, "accept"), {"reason": "Good."})
    assert response.status_code == 200
    assert "A login already uses this email address" in response.content.decode()


def test_another_regions_application_is_out_of_reach(client, channel_manager):
    application = _submit(country="US")
    client.force_login(channel_manager)
    assert client.get(_decide(application, "accept")).status_code == 404
    assert client.post(_decide(application, "decline"), {"reason": "x"}).status_code == 404
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING


def test_a_manager_ticks_an_item_by_hand_in_the_admin(client, channel_manager, partner):
    partner.status = LifecycleStatus.ONBOARDING
    partner.save()
    _program, _agreement, _course, items = program_with_checklist(manual=True)
    client.force_login(channel_manager)
    response = client.post(
        reverse("admin:onboarding_checklisttick_add"),
        {"partner": partner.pk, "item": items[ChecklistItemKind.MANUAL].pk, "note": "Kick-off held"},
    )
    assert response.status_code == 302
    tick = ChecklistTick.objects.get(partner=partner)
    assert tick.ticked_by == channel_manager and tick.note == "Kick-off held"
    client.post(reverse("admin:onboarding_checklisttick_delete", args=[tick.pk]), {"post": "yes"})
    assert not ChecklistTick.objects.exists()


def test_an_item_of_a_program_closed_to_the_partner_is_refused_by_the_form(client, channel_manager, partner):
    from tests.factories import SegmentFactory

    program, _agreement, _course, items = program_with_checklist(manual=True)
    program.segment = SegmentFactory()
    program.save()
    client.force_login(channel_manager)
    response = client.post(
        reverse("admin:onboarding_checklisttick_add"),
        {"partner": partner.pk, "item": items[ChecklistItemKind.MANUAL].pk, "note": ""},
    )
    assert response.status_code == 200
    assert "does not see" in str(response.context["adminform"].form.errors["item"])
    assert not ChecklistTick.objects.exists()
