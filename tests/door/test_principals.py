"""The door's principals (a user, or an integration token acting for its issuer), its actions,
and the one rule between partners and programs."""

import pytest
from django.db import connection
from django.db.models import OuterRef
from django.test.utils import CaptureQueriesContext

from api.models import TokenScope
from api.services import token_issue
from deals.models import Deal
from gates.models import GateOutcome, GateStatus, PartnerTier, SegmentMembership
from partners.models import Partner, Sale
from programs.models import Program, program_open_to
from tests.factories import DealFactory, PartnerFactory, ProgramFactory, SaleFactory, SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def programs(partner, other_partner):
    segment = SegmentFactory(name="Acme only")
    SegmentMembership.objects.create(segment=segment, partner=partner)
    return {
        "open": ProgramFactory(name="Open"),
        "segmented": ProgramFactory(name="Segmented", segment=segment),
        "retired": ProgramFactory(name="Retired", is_active=False),
    }


def test_a_partner_never_learns_of_a_program_outside_its_segments(
    programs, partner, other_partner, partner_admin, other_partner_admin, distributor_user
):
    open_, segmented = programs["open"], programs["segmented"]

    assert set(Program.objects.for_partner(partner)) == {open_, segmented}
    assert set(Program.objects.for_partner(other_partner)) == {open_}
    assert set(Program.objects.visible_to(partner_admin)) == {open_, segmented}
    assert set(Program.objects.visible_to(other_partner_admin)) == {open_}
    # A distributor sees the programs open to at least one partner it serves (Acme).
    assert set(Program.objects.visible_to(distributor_user)) == {open_, segmented}


def test_the_rule_reads_the_same_for_one_partner_many_and_each_rows_own(programs, partner, other_partner):
    for program in programs.values():
        for organisation in (partner, other_partner):
            PartnerTier.objects.create(partner=organisation, program=program)
    per_row = PartnerTier.objects.filter(program_open_to(OuterRef("partner_id"), prefix="program"))

    expected = {(p.pk, prog.pk) for p in (partner, other_partner) for prog in Program.objects.for_partner(p)}
    assert set(per_row.values_list("partner_id", "program_id")) == expected
    assert set(Program.objects.filter(program_open_to(Partner.objects.filter(pk=other_partner.pk)))) == {
        programs["open"]
    }


def test_a_token_sees_what_its_issuer_sees_narrowed_to_its_partners(channel_manager, partner):
    covered_too = PartnerFactory(region=partner.region)
    own, theirs = SaleFactory(partner=partner), SaleFactory(partner=covered_too)
    limited, _ = token_issue(
        actor=channel_manager,
        name="One partner",
        scope=TokenScope.READ,
        all_partners=False,
        partners=[partner],
    )
    everything, _ = token_issue(actor=channel_manager, name="All", scope=TokenScope.READ, all_partners=True)

    assert set(Sale.objects.visible_to(channel_manager)) >= {own, theirs}
    assert set(Sale.objects.visible_to(limited)) == {own}
    assert set(Partner.objects.visible_to(limited)) == {partner}
    assert set(Sale.objects.visible_to(everything)) == set(Sale.objects.visible_to(channel_manager))


def test_a_read_only_token_may_act_on_nothing(channel_manager, partner):
    deal = DealFactory(partner=partner)
    reading, _ = token_issue(actor=channel_manager, name="Reads", scope=TokenScope.READ, all_partners=True)
    writing, _ = token_issue(
        actor=channel_manager, name="Writes", scope=TokenScope.READ_WRITE, all_partners=True
    )

    assert Deal.objects.visible_to(reading).filter(pk=deal.pk).exists()
    assert not Deal.objects.actionable_by(reading, "decide").exists()
    assert not Partner.objects.actionable_by(reading, "send_facts").exists()
    assert Deal.objects.allows(writing, "decide", deal)
    assert Partner.objects.actionable_by(writing, "send_facts").filter(pk=partner.pk).exists()


def test_actions_are_a_subset_of_what_one_sees(
    partner_admin, partner_sales, distributor_user, partner, other_partner
):
    own, foreign = DealFactory(partner=partner), DealFactory(partner=other_partner)

    assert set(Deal.objects.actionable_by(partner_sales, "report_outcome")) == {own}
    assert not Deal.objects.actionable_by(partner_admin, "decide").exists()
    assert set(Deal.objects.actionable_by(distributor_user, "decide")) == {own}
    own.needs_review = True
    own.save()
    assert not Deal.objects.actionable_by(distributor_user, "decide").exists()  # the vendor's call
    assert not Deal.objects.allows(distributor_user, "decide", foreign)


def test_what_one_may_do_to_an_object_is_one_query_whatever_the_number_of_actions(channel_manager, partner):
    deal = DealFactory(partner=partner)
    Deal.objects.actions_of(channel_manager, deal, ["decide"])  # the user's permissions, once

    with CaptureQueriesContext(connection) as queries:
        allowed = Deal.objects.actions_of(channel_manager, deal, ["decide", "report_outcome"])

    assert allowed == {"decide", "report_outcome"}
    assert len(queries) == 1


def test_a_partner_users_own_actions_are_decided_from_the_membership_alone(
    partner_admin, partner_sales, partner, other_partner
):
    Partner.objects.allows(partner_admin, "register_deals", partner)  # loads the membership once

    with CaptureQueriesContext(connection) as queries:
        answers = [
            Partner.objects.allows(partner_admin, "register_deals", partner),
            Partner.objects.allows(partner_admin, "spend_mdf", partner),
            Partner.objects.allows(partner_admin, "register_deals", other_partner),
        ]
    assert answers == [True, True, False]
    assert len(queries) == 0
    # The shortcut and the queryset agree.
    for user in (partner_admin, partner_sales):
        for action in ("register_deals", "spend_mdf"):
            in_queryset = Partner.objects.actionable_by(user, action).filter(pk=partner.pk).exists()
            assert Partner.objects.allows(user, action, partner) == in_queryset, (user, action)


def test_results_of_a_program_outside_a_partners_segments_stay_hidden(
    programs, partner, other_partner, other_partner_admin
):
    from gates.models import Gate, GateState

    gate = Gate.objects.create(
        program=programs["segmented"],
        name="Segmented gate",
        state=GateState.ACTIVE,
        criteria={"metric": "certified_people", "op": ">=", "target": 1},
    )
    GateStatus.objects.create(partner=other_partner, gate=gate, status=GateOutcome.FAILED)
    PartnerTier.objects.create(partner=other_partner, program=programs["segmented"])

    assert not GateStatus.objects.visible_to(other_partner_admin).exists()
    assert not PartnerTier.objects.visible_to(other_partner_admin).exists()
