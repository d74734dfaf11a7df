"""Two versions of a gate compared in the admin: the criteria in words side by side, and who passes under each."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gates import services
from gates.models import GateVersion
from tests.factories import PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

PEOPLE = {"metric": "certified_people", "certification_types": ["sales-engineer"], "op": ">="}
WON = {"metric": "won_deals", "op": ">=", "target": 1}


def _page(client, gate, **params):
    response = client.get(reverse("admin:gates_gate_diff", args=[gate.pk]), params)
    return response, response.content.decode()


@pytest.fixture
def certified(ladder):
    made = {}
    for count in (1, 2, 3):
        made[count] = PartnerFactory(name=f"Partner with {count}")
        ladder.certify(made[count], count)
    return made


def test_by_default_the_current_version_beside_the_draft(client, superuser, ladder, certified):
    gate = ladder.gold_gate
    services.gate_draft_save(actor=superuser, gate=gate, criteria={**PEOPLE, "target": 2})
    client.force_login(superuser)
    response, page = _page(client, gate)
    assert response.status_code == 200
    # Both rules as the one plain-language function reads them.
    assert "<td>At least 3 people holding a valid sales-engineer certification.</td>" in page
    assert "<td>At least 2 people holding a valid sales-engineer certification.</td>" in page
    # The criterion that changed is marked, in words as well as by its markup.
    assert (
        "<del>at least 3 people holding a valid sales-engineer certification</del>" in page
        and "<ins>at least 2 people holding a valid sales-engineer certification</ins>" in page
        and "<mark>changed</mark>" in page
    )
    assert '<th scope="row">Pass version 1</th><td>1</td>' in page
    assert '<th scope="row">Pass version 2</th><td>2</td>' in page
    assert "<tr><td>Partner with 2</td><td>only version 2</td></tr>" in page
    assert "Partner with 1</td>" not in page and "Partner with 3</td>" not in page


def test_two_versions_picked_and_a_criterion_added_in_front_is_the_only_change(
    client, superuser, ladder, certified
):
    gate = ladder.gold_gate
    draft = services.gate_draft_save(
        actor=superuser, gate=gate, criteria={"all": [WON, {**PEOPLE, "target": 3}]}
    )
    services.gate_version_publish(actor=superuser, draft=draft)
    client.force_login(superuser)
    # No draft now: the page shows what the last publishing changed (1 → 2).
    _, page = _page(client, gate)
    assert 'value="1" selected' in page and page.count(" selected") == 2
    # (The metric's own words, as the portal reads them.)
    assert "<td>—</td><td><ins>at least 1 won deals all time</ins></td><td><mark>added</mark></td>" in page
    # The criterion that only moved in the tree (criteria → criteria.all[1]) reads the same.
    assert (
        "<tr><td>at least 3 people holding a valid sales-engineer certification</td>"
        "<td>at least 3 people holding a valid sales-engineer certification</td><td>same</td></tr>"
    ) in page
    assert "<tr><td>Partner with 3</td><td>only version 1</td></tr>" in page
    # Picked explicitly, the other way round.
    _, page = _page(client, gate, before=2, after=1)
    assert "<td><del>at least 1 won deals all time</del></td><td>—</td><td><mark>removed</mark></td>" in page
    assert "<tr><td>Partner with 3</td><td>only version 1</td></tr>" in page
    # The same version twice: nothing changed, nobody moves.
    _, page = _page(client, gate, before=2, after=2)
    assert "The criteria are the same." in page and "Partners passing one version" not in page


@pytest.mark.parametrize("params", [{"before": 9}, {"after": "x"}, {"before": "99999999999999999999"}])
def test_a_version_that_does_not_exist_is_a_404(client, superuser, ladder, params):
    client.force_login(superuser)
    response, _ = _page(client, ladder.gold_gate, **params)
    assert response.status_code == 404


def test_a_manager_counts_and_sees_only_the_partners_he_covers(client, channel_manager, ladder):
    covered = PartnerFactory(name="Acme")
    hidden = PartnerFactory(name="Xolotl Systems", country="BR", region="latam")
    for partner in (covered, hidden):
        ladder.certify(partner, 2)
    services.gate_draft_save(actor=None, gate=ladder.gold_gate, criteria={**PEOPLE, "target": 2})
    client.force_login(channel_manager)
    response, page = _page(client, ladder.gold_gate)
    assert response.status_code == 200
    assert '<th scope="row">Pass version 2</th><td>1</td>' in page
    assert "<tr><td>Acme</td><td>only version 2</td></tr>" in page and "Xolotl" not in page


def test_a_user_without_the_view_right_is_refused(client, ladder):

    client.force_login(UserFactory(username="clerk", is_staff=True))
    response, _ = _page(client, ladder.gold_gate)
    assert response.status_code == 403


def test_the_queries_do_not_grow_with_the_partners(client, superuser, ladder):
    gate = ladder.gold_gate
    services.gate_draft_save(actor=superuser, gate=gate, criteria={**PEOPLE, "target": 2})
    client.force_login(superuser)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response, _ = _page(client, gate)
        assert response.status_code == 200
        return len(queries)

    for n in range(2):
        ladder.certify(PartnerFactory(name=f"First {n}"), 2)
    few = count()
    for n in range(6):
        ladder.certify(PartnerFactory(name=f"More {n}"), n % 4)
    # Session and user, the gate, its versions, the partners in scope, the reference data,
    # one aggregate per fact table the criteria read, and the movers' names: the same for 8 as for 2.
    assert count() == few


def test_reached_from_the_change_form_and_the_versions_list(client, superuser, ladder):
    gate = ladder.gold_gate
    draft = services.gate_draft_save(actor=superuser, gate=gate, criteria={**PEOPLE, "target": 2})
    client.force_login(superuser)
    url = reverse("admin:gates_gate_diff", args=[gate.pk])
    form = client.get(reverse("admin:gates_gate_change", args=[gate.pk])).content.decode()
    assert f'href="{url}"' in form
    listing = client.get(reverse("admin:gates_gateversion_changelist")).content.decode()
    assert f'href="{url}?before=1&amp;after={draft.version}"' in listing
    assert GateVersion.objects.filter(gate=gate).count() == 2
    # And back from the page to the gate's versions.
    versions_url = reverse("admin:gates_gateversion_changelist") + f"?gate__id__exact={gate.pk}"
    _, page = _page(client, gate)
    assert f'href="{versions_url}"'.replace("&", "&amp;") in page
    assert client.get(versions_url).status_code == 200
