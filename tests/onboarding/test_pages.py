"""The application page (public), the checklist and company profile pages, and team management in
the portal: who may do what, what the pages answer, and their query counts as data grows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.throttles import applications_per_address
from onboarding import services
from onboarding.models import (
    AgreementAcceptance,
    ChecklistItem,
    ChecklistItemKind,
    PartnerApplication,
    ProgramAgreement,
)
from partners.models import LifecycleStatus, Membership, MembershipRole, Person
from tests.factories import CertificationFactory, MembershipFactory, ProgramFactory
from tests.onboarding.helpers import application_fields, program_with_checklist

pytestmark = pytest.mark.django_db

PERSONAS = [
    "anonymous",
    "partner_admin",
    "partner_sales",
    "other_partner_admin",
    "distributor_user",
    "channel_manager",
    "superuser",
]
LOGIN = "login"


def _login(client, request, persona: str):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))


def _form(**overrides) -> dict:
    return application_fields(**overrides)


# --- applying ----------------------------------------------------------------------------------


def test_anyone_may_open_the_application_page(client):
    ProgramFactory(name="Partner Network", slug="network")
    response = client.get(reverse("apply"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Become a partner" in content and "Partner Network" in content
    # The honeypot is in the page, out of sight.
    assert 'class="honeypot"' in content and 'name="homepage"' in content


def test_an_application_is_recorded_and_thanked(client, channel_manager):
    program = ProgramFactory(name="Partner Network", slug="network")
    response = client.post(
        reverse("apply"), {**_form(), "programs": [program.pk]}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302 and response["Location"] == reverse("apply_done")
    application = PartnerApplication.objects.get()
    assert application.company == "Newco Integrations" and application.submitted_from == "198.51.100.4"
    assert list(application.programs.all()) == [program]
    assert client.get(response["Location"]).status_code == 200


def test_a_robot_filling_the_honeypot_is_thanked_and_nothing_is_recorded(client):
    response = client.post(reverse("apply"), {**_form(), "homepage": "https://spam.example"})
    assert response.status_code == 302 and response["Location"] == reverse("apply_done")
    assert not PartnerApplication.objects.exists()


def test_the_answer_is_the_same_whatever_the_email(client, partner_admin):
    """No account enumeration: an email a login uses is thanked like any other."""
    taken = client.post(reverse("apply"), _form(contact_email=partner_admin.email))
    fresh = client.post(reverse("apply"), _form(contact_email="nobody@new.example"))
    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    assert PartnerApplication.objects.count() == 2


def test_errors_are_shown_next_to_their_fields(client):
    response = client.post(reverse("apply"), _form(contact_email="not an email", website=""))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"contact_email", "website"}
    assert not PartnerApplication.objects.exists()


def test_each_address_is_limited_valid_or_not(client, settings):
    settings.PRM_APPLICATION_RATE_PER_ADDRESS = (2, 3600)
    assert client.post(reverse("apply"), _form(), REMOTE_ADDR="198.51.100.5").status_code == 302
    assert client.post(reverse("apply"), {"company": ""}, REMOTE_ADDR="198.51.100.5").status_code == 200
    refused = client.post(reverse("apply"), _form(), REMOTE_ADDR="198.51.100.5")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many applications" in refused.content.decode()
    assert PartnerApplication.objects.count() == 1
    # Another address is not held back.
    assert client.post(reverse("apply"), _form(), REMOTE_ADDR="198.51.100.6").status_code == 302
    assert applications_per_address.wait("198.51.100.5") is not None


def test_the_application_page_reads_the_same_whatever_the_number_of_programs(client):
    ProgramFactory(name="One", slug="one")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("apply"))
    for number in range(5):
        ProgramFactory(name=f"More {number}", slug=f"more-{number}")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("apply"))
    # Whether any program is offered, then the programs.
    assert len(few) == len(many) == 2


# --- the checklist and the profile -------------------------------------------------------------


@pytest.fixture
def onboarding_partner(partner):
    partner.status = LifecycleStatus.ONBOARDING
    partner.save()
    return partner


GET_MATRIX = [
    ("portal:onboarding", [LOGIN, 200, 200, 200, 404, 404, 404]),
    ("portal:company_profile", [LOGIN, 200, 200, 200, 404, 404, 404]),
]


@pytest.mark.parametrize(("name", "expected"), GET_MATRIX, ids=lambda v: str(v))
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_get_matrix(client, request, onboarding_partner, other_partner_admin, name, expected, index):
    program_with_checklist()
    _login(client, request, PERSONAS[index])
    response = client.get(reverse(name))
    if expected[index] == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected[index]


def test_the_checklist_shows_each_program_and_the_progress(client, onboarding_partner, partner_admin):
    _program, agreement, _course, items = program_with_checklist()
    services.checklist_tick(
        actor=_manager_of(onboarding_partner),
        partner=onboarding_partner,
        item=items[ChecklistItemKind.FIRST_DEAL],
        ticked=True,
    )
    client.force_login(partner_admin)
    response = client.get(reverse("portal:onboarding"))
    content = response.content.decode()
    assert "1 of 5 steps done (20 %)." in content
    assert "The partner sells in good faith." in content and "Old terms." not in content
    assert reverse("portal:agreement_accept", args=[agreement.pk]) in content
    # The navigation leads to it while the partner is onboarding.
    assert 'href="/portal/onboarding/" aria-current="page"' in content


def _manager_of(partner):
    from django.contrib.auth import get_user_model

    from partners.models import ManagerProfile
    from partners.roles import ensure_channel_manager_group

    user = get_user_model().objects.create_user("mona", "mona@vendor.example", is_staff=True)
    user.groups.add(ensure_channel_manager_group())
    ManagerProfile.objects.create(user=user, regions=[partner.region])
    return user


def test_a_seller_reads_the_checklist_but_accepts_nothing(client, onboarding_partner, partner_sales):
    _program, agreement, _course, _items = program_with_checklist()
    client.force_login(partner_sales)
    content = client.get(reverse("portal:onboarding")).content.decode()
    assert reverse("portal:agreement_accept", args=[agreement.pk]) not in content
    response = client.post(
        reverse("portal:agreement_accept", args=[agreement.pk]), {"signer_name": "Sally", "accept": "on"}
    )
    assert response.status_code == 403
    assert not AgreementAcceptance.objects.exists()


def test_the_admin_accepts_the_agreement_from_the_page(client, onboarding_partner, partner_admin):
    _program, agreement, _course, _items = program_with_checklist()
    client.force_login(partner_admin)
    url = reverse("portal:agreement_accept", args=[agreement.pk])
    assert client.post(url, {"signer_name": "Pat Admin"}).status_code == 302  # the box unticked
    assert not AgreementAcceptance.objects.exists()
    response = client.post(url, {"signer_name": "Pat Admin", "accept": "on"}, REMOTE_ADDR="192.0.2.8")
    assert response.status_code == 302
    acceptance = AgreementAcceptance.objects.get()
    assert (acceptance.signer_name, acceptance.ip_address, acceptance.accepted_by) == (
        "Pat Admin",
        "192.0.2.8",
        partner_admin,
    )


def test_another_partner_cannot_accept_an_agreement_of_a_program_closed_to_it(
    client, onboarding_partner, other_partner_admin
):
    from tests.factories import SegmentFactory

    program, agreement, _course, _items = program_with_checklist()
    program.segment = SegmentFactory()
    program.save()
    client.force_login(other_partner_admin)
    response = client.post(
        reverse("portal:agreement_accept", args=[agreement.pk]), {"signer_name": "Oscar", "accept": "on"}
    )
    assert response.status_code == 404


def test_the_admin_completes_the_profile_and_the_item_is_ticked(client, onboarding_partner, partner_admin):
    _program, _agreement, _course, items = program_with_checklist()
    client.force_login(partner_admin)
    data = {
        "website": "acme.example",
        "description": "Cloud resale",
        "phone": "+44 20 1234",
        "address": "London",
    }
    response = client.post(reverse("portal:company_profile"), data)
    assert response.status_code == 302
    onboarding_partner.refresh_from_db()
    assert onboarding_partner.website == "https://acme.example"
    assert items[ChecklistItemKind.PROFILE].ticks.filter(partner=onboarding_partner).exists()


def test_a_seller_reads_the_profile_but_cannot_change_it(client, onboarding_partner, partner_sales):
    client.force_login(partner_sales)
    assert (
        "Your partner admins edit the company profile."
        in client.get(reverse("portal:company_profile")).content.decode()
    )
    data = {"website": "https://x.example", "description": "x", "phone": "1", "address": "x"}
    assert client.post(reverse("portal:company_profile"), data).status_code == 403


def test_the_checklist_page_reads_the_same_whatever_the_number_of_programs_and_items(
    client, onboarding_partner, partner_admin
):
    program_with_checklist()
    client.force_login(partner_admin)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("portal:onboarding")).status_code == 200
    manager = _manager_of(onboarding_partner)
    for number in range(3):
        program, _agreement, _course, items = program_with_checklist(
            name=f"More {number}", slug=f"more-{number}"
        )
        ChecklistItem.objects.create(program=program, kind=ChecklistItemKind.MANUAL, title="A call", order=20)
        services.checklist_tick(
            actor=manager, partner=onboarding_partner, item=items[ChecklistItemKind.PROFILE], ticked=True
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("portal:onboarding")).status_code == 200
    # Session, user, membership (the door's onboard rule reads it, no query); programs, their
    # items with their courses; ticks with who ticked; current agreements; acceptances; the bell.
    assert len(few) == len(many) == 9


def test_the_profile_page_reads_a_fixed_number_of_queries(client, onboarding_partner, partner_admin):
    client.force_login(partner_admin)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("portal:company_profile")).status_code == 200
    # Session, user, membership (the door's onboard rule reads it, no query); the profile; the bell.
    assert len(queries) == 5


def test_an_agreement_version_is_unique_per_program():
    from django.db import IntegrityError

    program = ProgramFactory()
    ProgramAgreement.objects.create(program=program, version=1, title="A", text="x")
    with pytest.raises(IntegrityError):
        ProgramAgreement.objects.create(program=program, version=1, title="B", text="y")


# --- team management ---------------------------------------------------------------------------


@pytest.fixture
def colleague(partner):
    membership = MembershipFactory(
        partner=partner, role=MembershipRole.SALES, user__username="cole", user__email="cole@acme.example"
    )
    person = Person.objects.create(
        partner=partner, user=membership.user, email="cole@acme.example", first_name="Cole", last_name="Lee"
    )
    CertificationFactory(person=person)
    return membership


TEAM_POSTS = [
    # (url name, whose membership, data, expected per persona)
    ("portal:member_role", "colleague", {"role": "technical"}, [LOGIN, 302, 403, 404, 404, 404, 404]),
    ("portal:member_deactivate", "colleague", {}, [LOGIN, 302, 403, 404, 404, 404, 404]),
]


@pytest.mark.parametrize(("name", "target", "data", "expected"), TEAM_POSTS, ids=lambda v: str(v))
@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_team_post_matrix(
    client, request, colleague, other_partner_admin, name, target, data, expected, index
):
    _login(client, request, PERSONAS[index])
    response = client.post(reverse(name, args=[colleague.pk]), data)
    colleague.refresh_from_db()
    colleague.user.refresh_from_db()
    want = expected[index]
    changed = colleague.role == MembershipRole.TECHNICAL or not colleague.user.is_active
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == want, (PERSONAS[index], response.status_code)
    assert changed == (want == 302)


@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_invite_matrix(client, request, partner, other_partner_admin, index):
    persona = PERSONAS[index]
    _login(client, request, persona)
    data = {"email": "new@acme.example", "first_name": "Neo", "last_name": "New", "role": "technical"}
    response = client.post(reverse("portal:team_invite"), data)
    want = [LOGIN, 302, 403, 302, 404, 404, 404][index]
    if want == LOGIN:
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == want
    invited = Membership.objects.filter(user__email="new@acme.example").first()
    if persona == "partner_admin":
        assert invited.partner == partner and invited.role == MembershipRole.TECHNICAL
    elif persona == "other_partner_admin":
        assert invited.partner == request.getfixturevalue("other_partner")  # his own team, never Acme's
    else:
        assert invited is None


def test_an_invitation_is_emailed_and_a_taken_email_is_told_to_the_admin(
    client, partner, partner_admin, other_partner_admin, django_capture_on_commit_callbacks
):
    from django.core import mail

    client.force_login(partner_admin)
    data = {"email": "neo@acme.example", "first_name": "Neo", "last_name": "New", "role": "sales"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:team_invite"), data)
    assert [message.to for message in mail.outbox] == [["neo@acme.example"]]
    response = client.post(
        reverse("portal:team_invite"), {**data, "email": other_partner_admin.email}, follow=True
    )
    assert "A login already uses this email address" in response.content.decode()


def test_the_admin_sees_the_logins_and_a_deactivated_colleague_keeps_his_certifications(
    client, partner_admin, colleague
):
    client.force_login(partner_admin)
    content = client.get(reverse("portal:team")).content.decode()
    assert "Deactivate" in content and "cole@acme.example" in content and "Invite a colleague" in content
    client.post(reverse("portal:member_deactivate", args=[colleague.pk]))
    content = client.get(reverse("portal:team")).content.decode()
    assert "Deactivated" in content
    person = Person.objects.get(user=colleague.user)
    assert not person.is_active and person.certifications.count() == 1


def test_a_seller_sees_no_team_management(client, partner_sales, colleague):
    client.force_login(partner_sales)
    content = client.get(reverse("portal:team")).content.decode()
    assert "Invite a colleague" not in content and "Deactivate" not in content


def test_a_deactivated_users_session_ends_at_once(client, partner_admin, colleague):
    from django.test import Client

    theirs = Client()
    theirs.force_login(colleague.user)
    assert theirs.get(reverse("portal:team")).status_code == 200
    client.force_login(partner_admin)
    client.post(reverse("portal:member_deactivate", args=[colleague.pk]))
    assert theirs.get(reverse("portal:team"))["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "name", ["portal:member_role", "portal:member_deactivate", "portal:agreement_accept"]
)
def test_team_and_agreement_actions_refuse_get(client, partner_admin, colleague, name):
    client.force_login(partner_admin)
    assert client.get(reverse(name, args=[colleague.pk])).status_code == 405


def test_invite_refuses_get(client, partner_admin):
    client.force_login(partner_admin)
    assert client.get(reverse("portal:team_invite")).status_code == 405
