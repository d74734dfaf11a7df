"""The portal's core promise: a program outside a partner's segments never reaches that partner.

Not its title, description or URL; not through a direct link (404), the
program list, its count, the search, the dashboard's gates, tiers and
benefits, nor any page the partner can reach by following links.
"""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from gates.models import (
    BenefitGrant,
    Gate,
    GateOutcome,
    GateState,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from programs.models import BenefitKind
from tests.deals.helpers import grant_deal_registration, grant_mdf
from tests.factories import BenefitFactory, PartnerFactory, ProgramFactory, SegmentFactory, TierFactory

pytestmark = pytest.mark.django_db

SECRETS = ("Zephyr", "XYZZY", "zephyr-secret", "QWERTY gate", "PLUGH benefit", "Obsidian tier")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"href", "hx-get"} and value and value.startswith("/portal/"):
                self.links.add(value.split("#", 1)[0])


@pytest.fixture
def secret_program(partner, other_partner):
    """A program whose segment holds ``other_partner`` only, with traces of ``partner`` in its results."""
    segment = SegmentFactory(name="Secret segment")
    SegmentMembership.objects.create(segment=segment, partner=other_partner)
    main = ProgramFactory(
        name="Partner Network", slug="partner-network", description="Open to every partner."
    )
    program = ProgramFactory(
        name="Zephyr Accelerator",
        slug="zephyr-secret",
        description="Confidential XYZZY incentives.",
        segment=segment,
        parent=main,
    )
    tier = TierFactory(program=program, name="Obsidian tier", rank=1)
    gate = Gate.objects.create(
        program=program,
        name="QWERTY gate",
        state=GateState.ACTIVE,
        unlocks_tier=tier,
        criteria={"metric": "certified_people", "op": ">=", "target": 1},
    )
    # The nightly evaluation measures every partner on every gate, so the
    # partner has results in the secret program: none may show.
    GateStatus.objects.create(partner=partner, gate=gate, status=GateOutcome.PASSED, measures=[2])
    GateStatusChange.objects.create(partner=partner, gate=gate, to_status=GateOutcome.PASSED, measures=[2])
    PartnerTier.objects.create(partner=partner, program=program, tier=tier, earned_tier=tier)
    TierChange.objects.create(
        partner=partner, program=program, to_tier=tier, reason="promoted", effective_on="2026-01-01"
    )
    benefit = BenefitFactory(program=program, name="PLUGH benefit", kind=BenefitKind.CONTENT)
    BenefitGrant.objects.create(partner=partner, benefit=benefit)
    ProgramFactory(name="Retired program", slug="retired", is_active=False)
    member_segment = SegmentFactory(name="Member segment")
    SegmentMembership.objects.create(segment=member_segment, partner=partner)
    ProgramFactory(name="Member Program", slug="member-program", segment=member_segment, parent=main)
    return program


def _crawl(client, start: str = "/portal/", limit: int = 60) -> dict[str, str]:
    """Every portal page reachable by GET from ``start``, with its HTML."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen or re.search(r"/(logout|approve|lost|withdraw|claim|paid|proof)/", url):
            continue
        response = client.get(url, follow=True)
        assert response.status_code in {200, 403}, (url, response.status_code)
        html = response.content.decode()
        seen[url] = html
        parser = _Links()
        parser.feed(html)
        queue.extend(sorted(parser.links - set(seen)))
    return seen


def test_a_program_outside_the_partners_segments_is_nowhere_in_its_portal(
    client, partner, partner_admin, secret_program
):
    grant_deal_registration(partner)
    grant_mdf(partner)
    client.force_login(partner_admin)
    pages = _crawl(client)
    # The crawl went through the partner's whole portal, including programs it may see.
    assert {"/portal/", "/portal/programs/", "/portal/programs/member-program/", "/portal/deals/new/"} <= set(
        pages
    )
    for url, html in pages.items():
        for secret in SECRETS:
            assert secret not in html, (url, secret)


def _without_csrf(content: bytes) -> bytes:
    content = re.sub(rb'"X-CSRFToken": "[^"]+"', b"", content)
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def test_a_direct_url_answers_404_like_a_program_that_does_not_exist(client, partner_admin, secret_program):
    client.force_login(partner_admin)
    hidden = client.get(reverse("portal:program_detail", args=["zephyr-secret"]))
    missing = client.get(reverse("portal:program_detail", args=["no-such-program"]))
    assert hidden.status_code == missing.status_code == 404
    # The same page, byte for byte, but for the CSRF token, which is masked afresh in every response.
    assert _without_csrf(hidden.content) == _without_csrf(missing.content)
    assert client.get(reverse("portal:program_detail", args=["retired"])).status_code == 404


def test_the_list_count_and_search_see_only_the_partners_programs(client, partner_admin, secret_program):
    client.force_login(partner_admin)
    listing = client.get(reverse("portal:programs")).content.decode()
    assert "2 programs open to you." in listing
    assert "Member Program" in listing and "Partner Network" in listing
    for query in ("Zephyr", "XYZZY", "zephyr", "Accelerator"):
        found = client.get(reverse("portal:programs"), {"q": query}).content.decode()
        assert f"0 programs match “{query}”." in found
        # The page repeats what was typed, and nothing else of the program.
        leftover = found.replace(query, "")
        assert not [secret for secret in SECRETS if secret in leftover]
    partial = client.get(reverse("portal:programs"), {"q": "program"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and "1 program match" in partial.content.decode()


def test_the_parent_program_lists_only_visible_sub_programs(client, partner_admin, secret_program):
    client.force_login(partner_admin)
    html = client.get(reverse("portal:program_detail", args=["partner-network"])).content.decode()
    assert "Member Program" in html and "Zephyr" not in html


def test_a_partner_in_the_segment_sees_the_program(client, other_partner_admin, secret_program):
    client.force_login(other_partner_admin)
    html = client.get(reverse("portal:program_detail", args=["zephyr-secret"])).content.decode()
    assert "Zephyr Accelerator" in html and "Confidential XYZZY incentives." in html
    assert "Member Program" not in client.get(reverse("portal:programs")).content.decode()


def test_a_distributor_sees_programs_of_the_partners_it_serves_only(
    client, distributor, distributor_user, secret_program
):
    client.force_login(distributor_user)
    assert client.get(reverse("portal:program_detail", args=["zephyr-secret"])).status_code == 404
    found = client.get(reverse("portal:programs"), {"q": "Zephyr"}).content.decode()
    assert "0 programs match" in found and "XYZZY" not in found and "Zephyr Accelerator" not in found
    # Once a partner it serves joins the segment, the program is one its partners may use.
    served = PartnerFactory(distributor=distributor)
    SegmentMembership.objects.create(segment=secret_program.segment, partner=served)
    assert client.get(reverse("portal:program_detail", args=["zephyr-secret"])).status_code == 200


def test_a_distributor_does_not_learn_a_served_partners_tier_in_a_program_it_cannot_see(
    client, partner, distributor_user, secret_program
):
    client.force_login(distributor_user)
    for url in (reverse("portal:partners"), reverse("portal:partner_detail", args=[partner.pk]), "/portal/"):
        html = client.get(url).content.decode()
        for secret in SECRETS:
            assert secret not in html, (url, secret)
