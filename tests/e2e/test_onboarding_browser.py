"""Recruitment and onboarding in a real headless Chromium against a live server.

A newcomer applies on the public page; the channel manager covering its region accepts the
application in the admin; the newcomer sets a password from the invitation's link, accepts the
program agreement, completes the company profile, invites a colleague and completes the
onboarding course; the partner becomes active. Screenshots of each step go to
test-results/e2e/onboarding-*.png.
"""

import re

import pytest
from django.core import mail

from core.models import AuditEntry
from enablement.models import Course, Module
from onboarding.models import ChecklistItem, ChecklistItemKind, PartnerApplication, ProgramAgreement
from partners.models import LifecycleStatus, ManagerProfile, Partner, Region
from partners.roles import ensure_channel_manager_group
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in
from tests.factories import ProgramFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def recruiting(db):
    """A program open to every partner with a four-step checklist, and the EMEA channel manager."""
    manager = UserFactory(username="morgan", first_name="Morgan", last_name="Manager", is_staff=True)
    manager.groups.add(ensure_channel_manager_group())
    ManagerProfile.objects.create(user=manager, regions=[Region.EMEA])
    program = ProgramFactory(name="Partner Network", slug="network")
    ProgramAgreement.objects.create(
        program=program, version=1, title="Partner Network agreement", text="We sell in good faith."
    )
    course = Course.objects.create(
        title="Welcome to the network", code="welcome", track="sales", duration_minutes=20
    )
    Module.objects.create(course=course, order=1, title="How we work", content="Our ways.")
    for order, kind in enumerate(
        [
            ChecklistItemKind.AGREEMENT,
            ChecklistItemKind.PROFILE,
            ChecklistItemKind.COLLEAGUE,
            ChecklistItemKind.COURSE,
        ]
    ):
        ChecklistItem.objects.create(
            program=program,
            kind=kind,
            order=order,
            course=course if kind == ChecklistItemKind.COURSE else None,
        )
    return manager


def _logout(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))


def test_a_newcomer_applies_is_accepted_sets_a_password_completes_the_checklist_and_becomes_active(
    page, recruiting
):
    from playwright.sync_api import expect

    # Applying, without a login.
    page.goto("/become-a-partner/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Become a partner")
    assert serious_violations(page) == []
    page.get_by_label("Company name").fill("Newco Integrations")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Partner type").select_option("si")
    page.get_by_label("Business model").select_option("services")
    page.get_by_label("Company website").fill("https://newco.example")
    page.get_by_label("Your first name").fill("Nora")
    page.get_by_label("Your last name").fill("Newman")
    page.get_by_label("Your work email").fill("nora@newco.example")
    page.get_by_label("Partner Network").check()
    page.screenshot(path=str(SHOTS / "onboarding-01-apply.png"), full_page=True)
    page.get_by_role("button", name="Send my application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    assert serious_violations(page) == []
    application = PartnerApplication.objects.get()

    # The manager covering EMEA was told, and accepts it in the admin with a reason.
    recruiting.set_password("password")
    recruiting.save()
    log_in(page, "morgan")
    page.goto("/portal/inbox/")
    page.get_by_role("link", name="Newco Integrations applied to become a partner").click()
    page.wait_for_url(f"**/admin/onboarding/partnerapplication/{application.pk}/change/")
    page.get_by_role("link", name="Accept", exact=True).click()
    page.get_by_label("Reason").fill("A services partner we lack in Germany.")
    page.get_by_role("button", name="Accept the application").click()
    expect(page.get_by_text("Newco Integrations is a partner in onboarding")).to_be_visible()
    page.screenshot(path=str(SHOTS / "onboarding-02-accepted.png"), full_page=True)
    page.goto("/portal/")
    _logout(page)

    # The invitation's single-use link: the newcomer chooses a password.
    [invitation] = [message for message in mail.outbox if message.to == ["nora@newco.example"]]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", invitation.body).group(1)
    page.goto(link)
    page.get_by_label(re.compile(r"^New password(?! confirmation)")).fill("a long pass phrase 2026")
    page.get_by_label("New password confirmation").fill("a long pass phrase 2026")
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()
    log_in(page, "nora@newco.example", "a long pass phrase 2026")

    # The checklist: nothing done yet.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Onboarding").click()
    expect(page.get_by_text("0 of 4 steps done (0 %).")).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "onboarding-03-checklist.png"), full_page=True)

    # The agreement, accepted by name.
    page.get_by_label("Your full name").fill("Nora Newman")
    page.get_by_label("Your job title").fill("CEO")
    page.get_by_label("I accept this agreement on behalf of my company").check()
    page.get_by_role("button", name="Accept the agreement").click()
    expect(page.get_by_text("Accepted by Nora Newman")).to_be_visible()
    expect(page.get_by_text("1 of 4 steps done (25 %).")).to_be_visible()

    # The company profile.
    page.get_by_role("link", name="Complete the company profile").click()
    page.get_by_label("What your company does").fill("Integration of cloud platforms for retailers.")
    page.get_by_label("Phone").fill("+49 30 1234 5678")
    page.get_by_label("Address").fill("Friedrichstraße 1, Berlin")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_text("Your company profile is saved.")).to_be_visible()

    # A colleague, from the team page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    invite = page.get_by_role("region", name="Invite a colleague")
    invite.get_by_label("Email").fill("sam@newco.example")
    invite.get_by_label("First name").fill("Sam")
    invite.get_by_label("Last name").fill("Seller")
    invite.get_by_label("Role").select_option("sales")
    invite.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("sam@newco.example is invited")).to_be_visible()
    expect(page.get_by_role("button", name="Deactivate Sam Seller")).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "onboarding-04-team.png"), full_page=True)

    # The onboarding course: enrol, work through its module.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Onboarding").click()
    expect(page.get_by_text("3 of 4 steps done (75 %).")).to_be_visible()
    page.get_by_role("link", name="Take “Welcome to the network”").click()
    page.get_by_role("button", name="Enrol in this course").click()
    page.get_by_role("button", name="Mark “How we work” done").click()
    expect(page.get_by_text("You completed “Welcome to the network”.")).to_be_visible()

    # Every step done: the partner is active, and the move is audited.
    page.goto("/portal/onboarding/")
    expect(page.get_by_text("4 of 4 steps done (100 %).")).to_be_visible()
    expect(page.get_by_text("Newco Integrations is active.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Onboarding")).to_have_count(
        0
    )
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "onboarding-05-active.png"), full_page=True)
    partner = Partner.objects.get(name="Newco Integrations")
    assert partner.status == LifecycleStatus.ACTIVE
    move = AuditEntry.objects.filter(action="partner.status_changed", target_id=str(partner.pk)).latest("id")
    assert (move.data["before"], move.data["after"]) == ("onboarding", "active")
