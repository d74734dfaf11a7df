"""What each role's pages show: the partner's standing, its team, the distributor's queue, the manager's summary."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import DealStatus
from gates.models import BenefitGrant, Gate, GateOutcome, GateState, GateStatus, GateStatusChange, PartnerTier
from partners.models import MembershipRole
from programs.models import BenefitKind
from tests.deals.helpers import grant_deal_registration, grant_mdf
from tests.factories import (
    BenefitFactory,
    CertificationFactory,
    CertificationTypeFactory,
    DealFactory,
    DistributorFactory,
    MembershipFactory,
    PartnerFactory,
    PersonFactory,
    TierFactory,
    publish_criteria,
)
from tests.portal.builders import tier_program

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_partner_dashboard_shows_tier_benefits_progress_and_changes(client, partner, partner_admin):
    program = tier_program(partner)
    benefit = BenefitFactory(program=program, name="Silver discount", kind=BenefitKind.DISCOUNT, percent=10)
    BenefitGrant.objects.create(partner=partner, benefit=benefit)
    grant_deal_registration(partner)
    grant_mdf(partner, "5000.00")
    client.force_login(partner_admin)
    text = _text(client.get(reverse("portal:dashboard")))
    assert "Acme" in text
    assert "Silver in Partner Network, since 4 March 2025" in text
    assert "Silver discount: 10 %" in text and "Deal registration" in text
    # Criterion by criterion, with what counts.
    assert "Gold: five certified sales engineers" in text
    assert "3 of 5 people holding a valid certification" in text
    assert "Silver gate: Passed" in text
    assert "5,000.00 USD of 5,000.00 USD left" in text
    assert "in its grace period" not in text
    assert "Register a deal" in text


def test_a_tier_in_grace_is_announced_with_its_end(client, partner, partner_admin):
    tier_program(partner, grace_until=timezone.localdate() + datetime.timedelta(days=20))
    client.force_login(partner_admin)
    response = client.get(reverse("portal:dashboard"))
    text = _text(response)
    assert "Your Silver tier in Partner Network is in its grace period" in text
    ends = (timezone.localdate() + datetime.timedelta(days=20)).strftime("%-d %B %Y")
    assert f"until {ends}" in text
    assert 'role="alert"' in response.content.decode()


def test_a_partner_without_rights_is_not_offered_registration(client, partner, partner_admin):
    client.force_login(partner_admin)
    text = _text(client.get(reverse("portal:dashboard")))
    assert "Register a deal" not in text and "Marketing funds" not in text
    response = client.get(reverse("portal:deal_register"))
    assert response.status_code == 403
    assert "Deal registration is not among your benefits yet" in _text(response)
    response = client.get(reverse("portal:mdf_new"))
    assert response.status_code == 403 and "MDF allowance is not among your benefits" in _text(response)


def test_the_partner_admin_sees_every_certification_with_its_expiry(client, partner, partner_admin):
    today = timezone.localdate()
    se = CertificationTypeFactory(code="sales-engineer", name="Certified Sales Engineer")
    ana = PersonFactory(partner=partner, first_name="Ana", last_name="Berg", email="ana@acme.example")
    CertificationFactory(person=ana, certification_type=se, expires_on=today + datetime.timedelta(days=400))
    ben = PersonFactory(partner=partner, first_name="Ben", last_name="Costa", email="ben@acme.example")
    CertificationFactory(person=ben, certification_type=se, expires_on=today - datetime.timedelta(days=3))
    CertificationFactory(
        person=ben,
        certification_type=CertificationTypeFactory(code="cloud-architect", name="Cloud Architect"),
        expires_on=today + datetime.timedelta(days=20),
    )
    PersonFactory(partner=PartnerFactory(name="Elsewhere"), first_name="Zed", last_name="Outsider")
    client.force_login(partner_admin)
    text = _text(client.get(reverse("portal:team")))
    assert "Ana Berg" in text and "Ben Costa" in text and "Zed" not in text
    assert "ana@acme.example" in text
    assert f"valid until {(today + datetime.timedelta(days=400)):%-d %b %Y}" in text
    assert f"expired {(today - datetime.timedelta(days=3)):%-d %b %Y}" in text
    assert f"expires {(today + datetime.timedelta(days=20)):%-d %b %Y}" in text


def test_other_roles_see_a_directory_and_only_their_own_certifications(client, partner, partner_sales):
    me = PersonFactory(partner=partner, first_name="Sally", last_name="Seller", user=partner_sales)
    CertificationFactory(person=me, certification_type=CertificationTypeFactory(code="mine", name="My Cert"))
    colleague = PersonFactory(
        partner=partner, first_name="Cole", last_name="League", email="cole@acme.example"
    )
    CertificationFactory(
        person=colleague, certification_type=CertificationTypeFactory(code="theirs", name="Their Cert")
    )
    client.force_login(partner_sales)
    text = _text(client.get(reverse("portal:team")))
    assert "Cole League" in text and "Sally Seller" in text
    assert "My Cert" in text
    assert "Their Cert" not in text and "cole@acme.example" not in text
    # Not even how many: colleagues' certifications are the partner admins' to see.
    assert "1 certification" not in text


def test_the_distributor_sees_its_partners_and_their_waiting_deals_only(
    client, partner, other_partner, distributor, distributor_user
):
    served = PartnerFactory(name="Served Two", distributor=distributor)
    DealFactory(partner=partner, customer_name="Contoso")
    DealFactory(partner=served, customer_name="Flagged Co", needs_review=True)
    DealFactory(partner=other_partner, customer_name="Initech")
    DealFactory(partner=PartnerFactory(name="Other Distributor's", distributor=DistributorFactory()))
    client.force_login(distributor_user)
    text = _text(client.get(reverse("portal:dashboard")))
    assert "Deals awaiting your approval 1" in text
    assert "Contoso" in text
    assert "Flagged Co" not in text and "Initech" not in text
    assert "Acme" in text and "Served Two" in text
    assert "Globex" not in text and "Other Distributor's" not in text


def test_the_partners_table_counts_what_awaits_the_viewer(client, partner, distributor_user, channel_manager):
    DealFactory(partner=partner)
    DealFactory(partner=partner)
    DealFactory(partner=partner, needs_review=True)
    DealFactory(partner=partner, needs_review=True)
    DealFactory(partner=partner, status=DealStatus.APPROVED)

    client.force_login(distributor_user)
    dashboard = client.get(reverse("portal:dashboard"))
    listed = client.get(reverse("portal:partners"))
    # The distributor decides the two plain submissions; the two under review are the vendor's.
    assert dashboard.context["waiting_count"] == 2 and len(dashboard.context["waiting"]) == 2
    for response in (dashboard, listed):
        if "listing" in response.context:
            (row,) = [shown.record for shown in response.context["listing"].table.paginated_rows]
        else:
            (row,) = response.context["partners"]
        assert (row.awaiting, row.under_review) == (2, 2)
        assert "2 under review, the vendor decides" in _text(response)

    client.force_login(channel_manager)
    (row,) = [shown.record for shown in client.get(reverse("portal:partners")).context["listing"].table.rows]
    # The vendor decides all four.
    assert row.awaiting == 4
    assert "under review, the vendor decides" not in _text(client.get(reverse("portal:partners")))


def test_the_manager_summary(client, partner, channel_manager):
    program = tier_program(partner, grace_until=timezone.localdate() + datetime.timedelta(days=9))
    TierFactory(program=program, name="Platinum", rank=4)
    covered = PartnerFactory(name="Covered Ltd")
    PartnerTier.objects.create(partner=covered, program=program, tier=program.tiers.get(name="Gold"))
    PartnerFactory(name="Far Away", country="US", region="na")
    DealFactory(partner=partner, needs_review=True)
    DealFactory(partner=covered)
    client.force_login(channel_manager)
    response = client.get(reverse("portal:manager"))
    text = _text(response)
    assert "2 partners in your coverage" in text
    # Every tier of the program, highest first, those nobody holds included.
    assert [row["name"] for row in response.context["summary"].by_tier] == ["Platinum", "Gold", "Silver"]
    assert "Platinum 0" in text and "Gold 1" in text and "Silver 1" in text and "No tier 0" in text
    assert "Gates passed this period: 1" in text and "Silver gate: 1" in text
    assert "Acme : Silver until" in text
    assert "2 deal registrations" in text and "1 under review for a conflicting claim" in text
    assert "Far Away" not in text
    # Against targets: Acme holds Silver and is measured against the Gold gate.
    rows = {row.record["name"]: row.record for row in response.context["listing"].table.paginated_rows}
    assert rows["Acme"]["next_gate"] == "Gold: five certified sales engineers"
    assert (rows["Acme"]["met"], rows["Acme"]["total"]) == (0, 1)
    assert rows["Covered Ltd"]["next_gate"] == ""
    assert "Top tier" in text


def test_the_manager_sees_a_bar_that_counts_the_criteria_met(client, partner, channel_manager):
    """Two of five criteria met and the rest at 90 %: the bar shows two fifths, not 94 %."""
    from gates.models import Gate, GateOutcome, GateStatus

    program = tier_program(partner)
    gate = Gate.objects.get(program=program, name="Gold: five certified sales engineers")
    publish_criteria(
        gate, {"all": [{"metric": "certified_people", "op": ">=", "target": 10} for _ in range(5)]}
    )
    GateStatus.objects.filter(gate=gate).update(
        status=GateOutcome.FAILED,
        measures=[10, 10, 9, 9, 9],
        gate_version=Gate.objects.get(pk=gate.pk).version,
    )
    client.force_login(channel_manager)

    html = client.get(reverse("portal:manager")).content.decode()

    assert "Criteria of that gate met" in html
    assert (
        '2 of 5 <progress max="5" value="2" aria-label="Acme: 2 of 5 criteria of the Gold gate met">' in html
    )


def test_gates_passed_before_this_period_are_not_counted(client, partner, channel_manager):
    tier_program(partner)
    GateStatusChange.objects.update(changed_at=timezone.now() - datetime.timedelta(days=200))
    client.force_login(channel_manager)
    assert "Gates passed this period: 0" in _text(client.get(reverse("portal:manager")))


def test_a_partner_sees_under_review_and_never_the_other_partners_name(
    client, partner, partner_admin, other_partner
):
    earlier = DealFactory(
        partner=other_partner, customer_domain="woodgrove.example", customer_name="Woodgrove"
    )
    flagged = DealFactory(
        partner=partner,
        customer_name="Woodgrove",
        customer_domain="woodgrove.example",
        needs_review=True,
        conflicts_with=earlier,
    )
    client.force_login(partner_admin)
    for url in (reverse("portal:deals"), reverse("portal:deal_detail", args=[flagged.pk]), "/portal/"):
        text = _text(client.get(url))
        assert "Globex" not in text and earlier.reference not in text
    assert "Under review" in _text(client.get(reverse("portal:deals")))


def test_the_manager_sees_whom_a_flagged_claim_conflicts_with(client, partner, channel_manager, superuser):
    rival = PartnerFactory(name="Rival EMEA")
    earlier = DealFactory(partner=rival, customer_domain="woodgrove.example", status=DealStatus.APPROVED)
    flagged = DealFactory(
        partner=partner, customer_domain="woodgrove.example", needs_review=True, conflicts_with=earlier
    )
    client.force_login(channel_manager)
    text = _text(client.get(reverse("portal:deal_detail", args=[flagged.pk])))
    assert f"Conflict: Rival EMEA holds approved registration {earlier.reference}" in text


def test_a_login_without_an_organisation_is_told_so(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    assert "not attached to a partner or distributor" in _text(client.get("/portal/"))


def test_pages_are_labelled_landmarked_and_fit_a_phone(client, partner, partner_admin):
    grant_deal_registration(partner)
    client.force_login(partner_admin)
    html = client.get(reverse("portal:deal_register")).content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<main id="main"' in html and '<nav aria-label="Main">' in html and "Skip to content" in html
    for field in (
        "customer_name",
        "customer_domain",
        "country",
        "expected_value",
        "currency",
        "expected_close",
    ):
        assert f'<label for="id_{field}">' in html
    assert 'aria-describedby="id_customer_domain_help"' in html
    assert 'aria-current="page"' in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_sales_users_cannot_register_for_a_partner_whose_role_does_not_sell(client, partner):
    grant_deal_registration(partner)
    technical = MembershipFactory(partner=partner, role=MembershipRole.TECHNICAL).user
    client.force_login(technical)
    assert client.get(reverse("portal:deal_register")).status_code == 403
    assert "Register a deal" not in _text(client.get(reverse("portal:deals")))


def test_gate_progress_on_a_program_page(client, partner, partner_admin):
    program = tier_program(partner)
    client.force_login(partner_admin)
    response = client.get(reverse("portal:program_detail", args=[program.slug]))
    text = _text(response)
    assert "You hold Silver since 4 March 2025" in text
    assert "3 of 5 people holding a valid certification" in text
    # Gates follow the tiers they unlock (Silver before Gold), not the alphabet.
    assert [gate.gate.name for gate in response.context["progress"]] == [
        "Silver gate",
        "Gold: five certified sales engineers",
    ]
    assert "Silver Your tier" in text and "Gold Your tier" not in text


def test_the_dashboard_leads_with_the_nearest_gap_and_its_reward(client, partner, partner_admin):
    program = tier_program(partner)
    gold = program.tiers.get(name="Gold")
    BenefitFactory(program=program, name="Gold discount", kind=BenefitKind.DISCOUNT, percent=20).tiers.add(
        gold
    )
    client.force_login(partner_admin)
    response = client.get(reverse("portal:dashboard"))
    step = response.context["next_step"]
    assert step.progress.gate.name == "Gold: five certified sales engineers"
    text = _text(response)
    assert "Your next step" in text
    assert "2 more people holding a valid certification → unlocks Gold: Gold discount: 20 %" in text
    # Certifications close this gap: the call to action is the team page.
    assert (
        f'href="{reverse("portal:team")}"'
        in response.content.decode().split("Your next step")[1].split("</section>")[0]
    )


def test_the_ladder_shows_every_tier_and_where_the_partner_stands(client, partner, partner_admin):
    program = tier_program(partner)
    TierFactory(program=program, name="Registered", rank=1)
    client.force_login(partner_admin)
    response = client.get(reverse("portal:dashboard"))
    (ladder,) = response.context["ladders"]
    assert [(step.tier.name, step.held, step.above) for step in ladder.steps] == [
        ("Registered", False, False),
        ("Silver", True, False),
        ("Gold", False, True),
    ]
    html = response.content.decode()
    assert 'aria-current="step"' in html and "1 of 1 criteria met" not in html
    assert "0 of 1 criteria met" in _text(response)


def test_met_criteria_fold_away_while_the_gate_is_open(client, partner, partner_admin):
    program = tier_program(partner)
    gate = Gate.objects.create(
        program=program,
        name="Platinum",
        state=GateState.ACTIVE,
        criteria={
            "all": [
                {"metric": "certified_people", "op": ">=", "target": 2},
                {"metric": "partner_attribute", "attribute": "status", "op": "in", "target": ["suspended"]},
            ]
        },
    )
    GateStatus.objects.create(partner=partner, gate=gate, status=GateOutcome.FAILED, measures=[3, "active"])
    client.force_login(partner_admin)
    html = client.get(reverse("portal:program_detail", args=[program.slug])).content.decode()
    article = html.split(f'id="gate-{gate.pk}"')[1].split("</article>")[0]
    unmet, folded = article.split("<details>")
    assert "Status is active; it must be suspended" in unmet and "(needs" not in unmet
    assert "Met already (1)" in folded and "3 of 2 people" in folded
