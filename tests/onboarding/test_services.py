"""Recruitment and onboarding: applying, deciding, the checklist, the move to active, and team
management by a partner's admins."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.models import AuditEntry
from enablement.models import CompletionSource
from enablement.services import completion_record
from events.models import OutboxEvent
from inbox.models import InboxItem, InboxKind
from onboarding import receivers, services
from onboarding.models import (
    AgreementAcceptance,
    ApplicationStatus,
    ChecklistItemKind,
    ChecklistTick,
    PartnerApplication,
)
from partners.members import membership_deactivate, membership_role_change
from partners.models import (
    LifecycleStatus,
    ManagerProfile,
    Membership,
    MembershipRole,
    Partner,
    Person,
    Region,
)
from tests.factories import (
    CertificationFactory,
    DealFactory,
    MembershipFactory,
    ProgramFactory,
    SegmentFactory,
    UserFactory,
)
from tests.onboarding.helpers import application_fields, program_with_checklist

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _submit(**overrides) -> PartnerApplication:
    return services.application_submit(address="203.0.113.9", programs=[], **application_fields(**overrides))


def _accept(application, actor, reason="A fine integrator."):
    return services.application_accept(
        actor=actor, application=application, reason=reason, domain="prm.example", use_https=True
    )


# --- applying ----------------------------------------------------------------------------------


def test_an_application_takes_its_region_from_its_country_and_names_only_public_programs(channel_manager):
    public = ProgramFactory(name="Open", slug="open")
    closed = ProgramFactory(name="Closed", slug="closed", segment=SegmentFactory())
    application = services.application_submit(
        address="203.0.113.9", programs=[public, closed], **application_fields(country="BR")
    )
    assert application.region == Region.LATIN_AMERICA
    assert list(application.programs.all()) == [public]
    assert application.status == ApplicationStatus.PENDING
    assert application.submitted_from == "203.0.113.9"
    assert AuditEntry.objects.filter(action="application.submitted", target_id=str(application.pk)).exists()


def test_the_managers_covering_the_region_are_told_and_nobody_else(channel_manager, superuser):
    elsewhere = UserFactory(username="lia", is_staff=True)
    ManagerProfile.objects.create(user=elsewhere, regions=[Region.APAC])
    application = _submit(country="FR")
    items = InboxItem.objects.filter(kind=InboxKind.APPLICATION)
    assert [item.user for item in items] == [channel_manager]
    assert items[0].title == "Newco Integrations applied to become a partner"
    assert items[0].link == f"/admin/onboarding/partnerapplication/{application.pk}/change/"


def test_with_nobody_covering_the_region_the_superusers_are_told(channel_manager, superuser):
    _submit(country="JP")
    assert [item.user for item in InboxItem.objects.filter(kind=InboxKind.APPLICATION)] == [superuser]


def test_a_manager_who_wants_applications_at_once_gets_an_email(
    channel_manager, django_capture_on_commit_callbacks
):
    channel_manager.inbox_preferences.create(kind=InboxKind.APPLICATION, delivery="immediate")
    with django_capture_on_commit_callbacks(execute=True):
        _submit()
    assert [message.to for message in mail.outbox] == [[channel_manager.email]]
    assert mail.outbox[0].subject == "Newco Integrations applied to become a partner"


def test_staff_see_the_applications_of_their_regions(channel_manager, superuser, partner_admin):
    ours, theirs = _submit(country="FR"), _submit(country="US")
    assert list(PartnerApplication.objects.visible_to(channel_manager)) == [ours]
    assert set(PartnerApplication.objects.visible_to(superuser)) == {ours, theirs}
    assert not PartnerApplication.objects.visible_to(partner_admin).exists()


# --- deciding ----------------------------------------------------------------------------------


def test_accepting_creates_the_partner_in_onboarding_and_invites_its_first_admin(
    channel_manager, django_capture_on_commit_callbacks, client
):
    application = _submit()
    with django_capture_on_commit_callbacks(execute=True):
        partner = _accept(application, channel_manager)
    assert partner.status == LifecycleStatus.ONBOARDING
    assert (partner.name, partner.region, partner.country.code) == ("Newco Integrations", Region.EMEA, "DE")
    assert partner.channel_manager == channel_manager
    move = AuditEntry.objects.get(action="partner.status_changed", target_id=str(partner.pk))
    assert (move.data["before"], move.data["after"]) == ("prospect", "onboarding")
    assert move.data["reason"] == "Application accepted: A fine integrator."
    application.refresh_from_db()
    assert (application.status, application.partner, application.decided_by) == (
        ApplicationStatus.ACCEPTED,
        partner,
        channel_manager,
    )
    assert AuditEntry.objects.filter(action="application.accepted", target_id=str(application.pk)).exists()
    membership = Membership.objects.get(partner=partner)
    assert membership.role == MembershipRole.ADMIN
    assert membership.user.email == "nora@newco.example" and not membership.user.is_staff
    assert Person.objects.get(partner=partner).user == membership.user
    # The invitation: a single-use link to choose a password.
    [message] = mail.outbox
    assert message.to == ["nora@newco.example"]
    link = re.search(r"https://prm\.example(/accounts/reset/\S+/)", message.body).group(1)
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "a-long pass phrase", "new_password2": "a-long pass phrase"}
    )
    assert response.status_code == 302
    membership.user.refresh_from_db()
    assert membership.user.check_password("a-long pass phrase")
    # Used once, the link no longer works.
    client.logout()
    response = client.get(link, follow=True)
    assert not response.context["validlink"]
    assert "This link no longer works" in response.content.decode()


def test_the_invitation_link_expires(channel_manager, settings, monkeypatch):
    application = _submit()
    partner = _accept(application, channel_manager)
    user = Membership.objects.get(partner=partner).user
    generator = PasswordResetTokenGenerator()
    token = generator.make_token(user)
    assert generator.check_token(user, token)
    later = timezone.now() + timezone.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later.replace(tzinfo=None))
    assert not generator.check_token(user, token)


def test_an_email_a_login_already_uses_is_refused_at_acceptance_and_nothing_is_created(channel_manager):
    UserFactory(username="nora", email="NORA@newco.example")
    application = _submit()
    with pytest.raises(ValidationError) as refused:
        _accept(application, channel_manager)
    assert "contact_email" in refused.value.message_dict
    assert not Partner.objects.filter(name="Newco Integrations").exists()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING


def test_a_manager_decides_only_the_applications_of_his_regions_and_only_once(channel_manager, partner_admin):
    foreign = _submit(country="US")
    with pytest.raises(PermissionDenied):
        _accept(foreign, channel_manager)
    with pytest.raises(PermissionDenied):
        _accept(_submit(), partner_admin)
    application = _submit()
    services.application_decline(actor=channel_manager, application=application, reason="Not a fit.")
    with pytest.raises(ValidationError) as twice:
        _accept(application, channel_manager)
    assert twice.value.code == "conflict"


def test_declining_needs_a_reason_and_is_audited(channel_manager):
    application = _submit()
    with pytest.raises(ValidationError):
        services.application_decline(actor=channel_manager, application=application, reason="  ")
    services.application_decline(actor=channel_manager, application=application, reason="No services team.")
    application.refresh_from_db()
    assert (application.status, application.decision_reason) == (
        ApplicationStatus.DECLINED,
        "No services team.",
    )
    entry = AuditEntry.objects.get(action="application.declined")
    assert entry.actor == channel_manager and entry.data["reason"] == "No services team."
    assert not Partner.objects.filter(name="Newco Integrations").exists()


# --- the checklist -----------------------------------------------------------------------------


@pytest.fixture
def newcomer(channel_manager):
    """An accepted applicant: a partner in onboarding with its first admin."""
    partner = _accept(_submit(), channel_manager)
    admin = Membership.objects.get(partner=partner).user
    return partner, admin


def test_the_agreement_records_who_accepted_which_version_when_and_from_where(newcomer):
    partner, admin = newcomer
    _program, agreement, _course, items = program_with_checklist()
    acceptance = services.agreement_accept(
        actor=admin, partner=partner, agreement=agreement, signer_name="Nora Newman", address="198.51.100.7"
    )
    assert (acceptance.accepted_by, acceptance.signer_name, acceptance.ip_address) == (
        admin,
        "Nora Newman",
        "198.51.100.7",
    )
    assert acceptance.agreement.version == 2 and acceptance.accepted_at is not None
    entry = AuditEntry.objects.get(action="agreement.accepted")
    assert entry.data["version"] == 2 and entry.data["ip_address"] == "198.51.100.7"
    assert ChecklistTick.objects.filter(partner=partner, item=items[ChecklistItemKind.AGREEMENT]).exists()
    # Accepting again records nothing more.
    services.agreement_accept(
        actor=admin, partner=partner, agreement=agreement, signer_name="N", address=None
    )
    assert AgreementAcceptance.objects.count() == 1


def test_only_the_current_version_and_only_by_the_partners_admin(newcomer, partner_admin):
    partner, admin = newcomer
    program, agreement, _course, _items = program_with_checklist()
    old = program.agreements.get(version=1)
    with pytest.raises(ValidationError):
        services.agreement_accept(
            actor=admin, partner=partner, agreement=old, signer_name="Nora", address=None
        )
    with pytest.raises(PermissionDenied):
        services.agreement_accept(
            actor=partner_admin, partner=partner, agreement=agreement, signer_name="Pat", address=None
        )
    seller = MembershipFactory(partner=partner, role=MembershipRole.SALES).user
    with pytest.raises(PermissionDenied):
        services.agreement_accept(
            actor=seller, partner=partner, agreement=agreement, signer_name="S", address=None
        )
    with pytest.raises(ValidationError):
        services.agreement_accept(
            actor=admin, partner=partner, agreement=agreement, signer_name=" ", address=None
        )


def test_an_accepted_version_is_not_edited(newcomer):
    partner, admin = newcomer
    _program, agreement, _course, _items = program_with_checklist()
    services.agreement_accept(
        actor=admin, partner=partner, agreement=agreement, signer_name="Nora", address=None
    )
    agreement.text = "Other terms."
    with pytest.raises(ValidationError):
        agreement.full_clean()


def test_a_segment_only_programs_checklist_does_not_apply_to_a_partner_outside_it(newcomer):
    partner, admin = newcomer
    program, agreement, _course, _items = program_with_checklist()
    program.segment = SegmentFactory()
    program.save()
    with pytest.raises(ValidationError):
        services.agreement_accept(
            actor=admin, partner=partner, agreement=agreement, signer_name="N", address=None
        )


def test_the_system_ticks_each_item_it_can_tell_and_the_last_one_makes_the_partner_active(
    newcomer, django_capture_on_commit_callbacks
):
    partner, admin = newcomer
    _program, agreement, course, _items = program_with_checklist()

    def ticked():
        return set(ChecklistTick.objects.filter(partner=partner).values_list("item__kind", flat=True))

    services.agreement_accept(
        actor=admin, partner=partner, agreement=agreement, signer_name="Nora", address=None
    )
    services.company_profile_save(
        actor=admin,
        partner=partner,
        website="https://newco.example",
        description="Integration of cloud platforms.",
        phone="+49 30 1234",
        address="Berlin",
    )
    assert ticked() == {ChecklistItemKind.AGREEMENT, ChecklistItemKind.PROFILE}
    services.colleague_invite(
        actor=admin,
        partner=partner,
        email="sam@newco.example",
        role=MembershipRole.SALES,
        first_name="Sam",
        last_name="Seller",
        domain="prm.example",
        use_https=True,
    )
    assert ChecklistItemKind.COLLEAGUE in ticked()
    # The course: a completion (here from the LMS) ticks it after commit.
    person = Person.objects.get(user=admin)
    with django_capture_on_commit_callbacks(execute=True):
        completion_record(actor=None, person=person, course=course, source=CompletionSource.XAPI)
    assert ChecklistItemKind.COURSE in ticked()
    partner.refresh_from_db()
    assert partner.status == LifecycleStatus.ONBOARDING
    # The first deal: its submitted event, once committed, ticks the last item.
    deal = DealFactory(partner=partner)
    event = OutboxEvent.objects.create(
        event_type="deal.submitted", partner_id=partner.pk, data={"deal_id": deal.pk}
    )
    receivers.on_events_committed(sender=OutboxEvent, event_ids=[str(event.pk)])
    assert ticked() == set(ChecklistItemKind.values) - {ChecklistItemKind.MANUAL}
    partner.refresh_from_db()
    assert partner.status == LifecycleStatus.ACTIVE
    move = AuditEntry.objects.filter(action="partner.status_changed", target_id=str(partner.pk)).latest("id")
    assert (move.data["before"], move.data["after"], move.data["reason"]) == (
        "onboarding",
        "active",
        services.ACTIVATED_REASON,
    )


def test_an_incomplete_profile_ticks_nothing(newcomer):
    partner, admin = newcomer
    program_with_checklist()
    services.company_profile_save(
        actor=admin, partner=partner, website="https://newco.example", description="", phone="1", address="x"
    )
    assert not ChecklistTick.objects.filter(partner=partner).exists()


def test_the_manager_ticks_what_the_system_cannot_tell(newcomer, channel_manager, partner_admin):
    partner, admin = newcomer
    _program, _agreement, _course, items = program_with_checklist(manual=True)
    manual = items[ChecklistItemKind.MANUAL]
    with pytest.raises(PermissionDenied):
        services.checklist_tick(actor=admin, partner=partner, item=manual, ticked=True)
    assert services.checklist_tick(
        actor=channel_manager, partner=partner, item=manual, ticked=True, note="Call held"
    )
    assert not services.checklist_tick(actor=channel_manager, partner=partner, item=manual, ticked=True)
    tick = ChecklistTick.objects.get(partner=partner, item=manual)
    assert tick.ticked_by == channel_manager and tick.note == "Call held"
    assert AuditEntry.objects.filter(action="checklist.ticked", target_id=str(tick.pk)).exists()
    assert services.checklist_tick(actor=channel_manager, partner=partner, item=manual, ticked=False)
    assert AuditEntry.objects.filter(action="checklist.unticked").exists()
    # A manager of another region cannot reach the partner at all.
    other = UserFactory(username="ulla", is_staff=True)
    other.groups.set(channel_manager.groups.all())
    ManagerProfile.objects.create(user=other, regions=[Region.APAC])
    with pytest.raises(PermissionDenied):
        services.checklist_tick(actor=other, partner=partner, item=manual, ticked=True)


def test_the_managers_ticks_alone_can_complete_the_checklist(newcomer, channel_manager):
    partner, _admin = newcomer
    _program, _agreement, _course, items = program_with_checklist(manual=True)
    for item in items.values():
        services.checklist_tick(actor=channel_manager, partner=partner, item=item, ticked=True)
    partner.refresh_from_db()
    assert partner.status == LifecycleStatus.ACTIVE


def test_a_partner_whose_programs_ask_nothing_stays_in_onboarding(newcomer):
    partner, _admin = newcomer
    ProgramFactory(name="Plain", slug="plain")
    services.checklists_refresh(partner_ids=[partner.pk])
    partner.refresh_from_db()
    assert partner.status == LifecycleStatus.ONBOARDING


def test_an_active_partner_is_never_looked_at(partner):
    program_with_checklist()
    assert services.checklists_refresh(partner_ids=[partner.pk]) == 0
    assert not ChecklistTick.objects.exists()


# --- team management ---------------------------------------------------------------------------


def test_a_partner_admin_invites_changes_roles_and_deactivates_colleagues(partner, partner_admin, client):
    seller = services.colleague_invite(
        actor=partner_admin,
        partner=partner,
        email="sam@acme.example",
        role=MembershipRole.SALES,
        first_name="Sam",
        last_name="Seller",
        domain="prm.example",
        use_https=True,
    )
    person = Person.objects.get(user=seller.user)
    CertificationFactory(person=person)
    membership_role_change(actor=partner_admin, membership=seller, role=MembershipRole.TECHNICAL)
    seller.refresh_from_db()
    assert seller.role == MembershipRole.TECHNICAL
    client.force_login(seller.user)
    assert client.get("/portal/").status_code == 200
    membership_deactivate(actor=partner_admin, membership=seller)
    # At once: the session signs in to nothing.
    assert client.get("/portal/").status_code == 302
    person.refresh_from_db()
    assert not person.is_active and person.certifications.count() == 1
    assert AuditEntry.objects.filter(action="membership.deactivated", target_id=str(seller.pk)).exists()


def test_a_partner_admin_cannot_act_on_himself_nor_on_another_partners_team(
    partner, partner_admin, partner_sales, other_partner_admin
):
    own = Membership.objects.get(user=partner_admin)
    with pytest.raises(PermissionDenied):
        membership_deactivate(actor=partner_admin, membership=own)
    with pytest.raises(PermissionDenied):
        membership_role_change(actor=partner_admin, membership=own, role=MembershipRole.SALES)
    foreign = Membership.objects.get(user=other_partner_admin)
    with pytest.raises(PermissionDenied):
        membership_deactivate(actor=partner_admin, membership=foreign)
    # A seller manages nobody.
    with pytest.raises(PermissionDenied):
        membership_deactivate(actor=partner_sales, membership=own)
    with pytest.raises(PermissionDenied):
        services.colleague_invite(
            actor=partner_sales,
            partner=partner,
            email="x@acme.example",
            role=MembershipRole.SALES,
            domain="prm.example",
            use_https=True,
        )


def test_an_invited_colleague_with_a_person_record_already_gets_it_linked(partner, partner_admin):
    from tests.factories import PersonFactory

    existing = PersonFactory(partner=partner, email="Lee@acme.example", first_name="Lee", last_name="Lin")
    membership = services.colleague_invite(
        actor=partner_admin,
        partner=partner,
        email="lee@acme.example",
        role=MembershipRole.TECHNICAL,
        domain="prm.example",
        use_https=True,
    )
    existing.refresh_from_db()
    assert existing.user == membership.user
    assert Person.objects.filter(partner=partner, email__iexact="lee@acme.example").count() == 1
