"""The doors that models without one gained: results, history, logins, distributors, coverage."""

import datetime

import pytest
from django.contrib.auth import get_user_model

from gates.models import (
    BenefitGrant,
    Gate,
    GateState,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from partners.models import Distributor, ManagerProfile, Membership, users_visible_to
from tests.factories import BenefitFactory, ProgramFactory, SegmentFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def results(partner, other_partner):
    """For each partner: results in an open program and in a program only Acme's segment opens."""
    open_program = ProgramFactory(name="Open")
    segment = SegmentFactory(name="Acme only")
    closed_program = ProgramFactory(name="Closed", segment=segment)
    SegmentMembership.objects.create(segment=segment, partner=partner)
    rows = {}
    for program in (open_program, closed_program):
        tier = TierFactory(program=program, rank=1)
        benefit = BenefitFactory(program=program)
        gate = Gate.objects.create(
            program=program, name=f"{program.name} gate", state=GateState.ACTIVE, criteria={}
        )
        for organisation in (partner, other_partner):
            key = (organisation.name, program.name)
            rows[key] = [
                GateStatus.objects.create(partner=organisation, gate=gate, status="passed"),
                GateStatusChange.objects.create(partner=organisation, gate=gate, to_status="passed"),
                PartnerTier.objects.create(partner=organisation, program=program, tier=tier),
                TierChange.objects.create(
                    partner=organisation,
                    program=program,
                    to_tier=tier,
                    reason="promoted",
                    effective_on=datetime.date(2025, 1, 1),
                ),
                BenefitGrant.objects.create(partner=organisation, benefit=benefit),
            ]
    return rows


def _seen(user, rows):
    return {
        key
        for key, objects in rows.items()
        if all(type(obj).objects.visible_to(user).filter(pk=obj.pk).exists() for obj in objects)
    }


def test_results_follow_the_partners_and_programs_a_user_sees(
    results, partner_admin, other_partner_admin, distributor_user, channel_manager, superuser
):
    everything = set(results)
    assert _seen(superuser, results) == everything
    assert _seen(channel_manager, results) == {("Acme", "Open"), ("Acme", "Closed")}
    assert _seen(partner_admin, results) == {("Acme", "Open"), ("Acme", "Closed")}
    # Globex is not in the segment: the closed program's results do not exist for it.
    assert _seen(other_partner_admin, results) == {("Globex", "Open")}
    assert _seen(distributor_user, results) == {("Acme", "Open"), ("Acme", "Closed")}
    assert _seen(None, results) == set()


def test_segment_memberships_are_staff_only(results, partner_admin, channel_manager):
    assert SegmentMembership.objects.visible_to(channel_manager).count() == 1
    assert not SegmentMembership.objects.visible_to(partner_admin).exists()


def test_memberships_and_logins(
    partner, partner_admin, partner_sales, other_partner_admin, distributor_user, channel_manager, superuser
):
    def members(user):
        return set(Membership.objects.visible_to(user).values_list("user__username", flat=True))

    assert members(channel_manager) == {"pat", "sally", "dana"}  # Acme's and its EMEA distributor's
    assert members(partner_admin) == {"pat", "sally"}
    assert members(distributor_user) == {"dana"}  # not the logins of the partners it serves
    assert members(superuser) == {"pat", "sally", "dana", "oscar"}
    usernames = set(users_visible_to(channel_manager).values_list("username", flat=True))
    assert usernames == {"pat", "sally", "dana"}
    assert not users_visible_to(partner_admin).exists()
    assert users_visible_to(superuser).count() == get_user_model().objects.count()


def test_distributors(
    partner, distributor, partner_admin, other_partner_admin, distributor_user, channel_manager
):
    latam = Distributor.objects.create(name="Andes", country="PE", region="latam")
    assert set(Distributor.objects.visible_to(channel_manager)) == {distributor}
    assert set(Distributor.objects.visible_to(partner_admin)) == {distributor}
    assert set(Distributor.objects.visible_to(distributor_user)) == {distributor}
    assert not Distributor.objects.visible_to(other_partner_admin).exists()
    assert latam not in Distributor.objects.visible_to(channel_manager)


def test_coverage_is_seen_whole_only_by_those_who_grant_it(channel_manager, superuser):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    other = UserFactory(username="lena", is_staff=True)
    ManagerProfile.objects.create(user=other, regions=["apac"])
    assert list(ManagerProfile.objects.visible_to(channel_manager)) == [channel_manager.manager_profile]
    assert ManagerProfile.objects.visible_to(superuser).count() == 2
    granter = UserFactory(username="gina", is_staff=True)
    granter.user_permissions.add(Permission.objects.get(codename="grant_coverage"))
    assert ManagerProfile.objects.visible_to(granter).count() == 2
    assert ManagerProfile.may_grant(granter) and not ManagerProfile.may_grant(channel_manager)
