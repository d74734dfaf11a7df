"""What-if in the background: the planner's decisions over the requester's partners, nothing written."""

import csv
import io

import pytest

from gates import services
from gates.models import BenefitGrant, Gate, GateStatus, GateVersion, PartnerTier, WhatIfRun
from gates.whatif import WhatIfError, whatif_entry, whatif_movers_csv, whatif_queue, whatif_run
from partners.models import Partner
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

TWO_PEOPLE = {
    "metric": "certified_people",
    "certification_types": ["sales-engineer"],
    "op": ">=",
    "target": 2,
}


def _written():
    """Everything the evaluation writes about partners, to show a simulation leaves it as it was."""
    return (
        list(GateStatus.objects.order_by("id").values_list("id", "status", "gate_version")),
        list(PartnerTier.objects.order_by("id").values_list("id", "tier_id")),
        list(BenefitGrant.objects.order_by("id").values_list("id", "revoked_at")),
    )


@pytest.fixture
def queue(django_capture_on_commit_callbacks):
    """Queue a simulation and run what follows its commit, as a request would (no broker: in this process)."""

    def queue(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            run = whatif_queue(**kwargs)
        run.refresh_from_db()
        return run

    return queue


@pytest.fixture
def partners(ladder):
    """Four partners with 0..3 sales engineers, evaluated: two Silver (1, 2), one Gold (3)."""
    made = []
    for count in (0, 1, 2, 3):
        partner = PartnerFactory(name=f"Partner with {count}")
        ladder.certify(partner, count)
        made.append(partner)
    services.evaluate()
    return made


def test_a_draft_is_decided_by_the_planner_and_writes_nothing(ladder, partners, superuser, queue):
    draft = services.gate_draft_save(actor=superuser, gate=ladder.gold_gate, criteria=TWO_PEOPLE)
    before = _written()
    run = queue(actor=superuser, entries=[whatif_entry(ladder.gold_gate)])
    assert run.state == WhatIfRun.State.DONE
    assert (run.partners_total, run.partners_done, run.chunks_done) == (4, 4, run.chunks_total)
    assert _written() == before
    [gate] = run.result["gates"]
    assert (gate["version"], gate["draft"]) == (draft.version, True)
    assert (gate["would_pass"], gate["passing_now"], gate["newly_pass"], gate["newly_fail"]) == (2, 1, 1, 0)
    [movement] = run.result["tiers"]
    assert movement["tiers"] == ["No tier", "Silver", "Gold"]
    # The partner with two engineers moves Silver → Gold; the others stay where they are.
    assert movement["rows"] == [["No tier", [1, 0, 0]], ["Silver", [0, 1, 1]], ["Gold", [0, 0, 1]]]
    assert movement["moved"] == 1
    [mover] = run.result["movers"]
    assert mover["name"] == "Partner with 2" and mover["change"] == "newly passes"
    assert (mover["from_tier"], mover["to_tier"]) == ("Silver", "Gold")
    assert mover["criterion"].startswith("Passes without the current criteria:")
    assert "(measured 2)" in mover["criterion"]
    benefits = {
        (row["benefit"], row["via"]): (row["unlocked"], row["lost"]) for row in run.result["benefits"]
    }
    # Gold's discount and deal registration through Gold are unlocked; Silver's go.
    assert benefits[("Gold discount", "tier Gold")] == (1, 0)
    assert benefits[("Silver discount", "tier Silver")] == (0, 1)


def test_the_task_result_equals_the_inline_simulation(ladder, partners, superuser, queue):
    PartnerFactory(name="Latin", country="BR", region="latam")
    draft_criteria = {**TWO_PEOPLE, "target": 1}
    run = queue(
        actor=superuser,
        entries=[whatif_entry(ladder.gold_gate, criteria=draft_criteria, currency="USD")],
    )
    run.refresh_from_db()
    inline = services.gate_simulate(
        criteria=draft_criteria,
        currency="USD",
        gate_id=ladder.gold_gate.pk,
        partners=Partner.objects.visible_to(superuser),
    )
    [gate] = run.result["gates"]
    assert {
        name: gate[name] for name in ("evaluated", "would_pass", "passing_now", "newly_pass", "newly_fail")
    } == {
        "evaluated": inline.evaluated,
        "would_pass": inline.would_pass,
        "passing_now": inline.passing_now,
        "newly_pass": inline.newly_pass,
        "newly_fail": inline.newly_fail,
    }
    assert [count for _path, _text, count in gate["leaves"]] == [count for *_, count in inline.leaf_passes]
    assert sorted(m["name"] for m in run.result["movers"] if m["change"] == "newly passes") == sorted(
        inline.newly_pass_examples
    )


def test_progress_is_recorded_chunk_by_chunk(ladder, partners, superuser, monkeypatch):
    from gates import whatif

    seen = []
    real = whatif._Report.add

    def watch(self, plan, *args):
        seen.append(WhatIfRun.objects.values_list("state", "chunks_done", "partners_done").get())
        return real(self, plan, *args)

    monkeypatch.setattr(whatif._Report, "add", watch)
    run = WhatIfRun.objects.create(
        requested_by=superuser, gates=[whatif_entry(ladder.gold_gate)], as_of=partners[0].joined_on
    )
    whatif_run(run.pk, chunk_size=1)
    run.refresh_from_db()
    assert run.chunks_total == 4 and run.state == WhatIfRun.State.DONE
    # Before each chunk is added, the ones before it are recorded.
    assert seen == [("running", 0, 0), ("running", 1, 1), ("running", 2, 2), ("running", 3, 3)]
    assert (run.chunks_done, run.partners_done) == (4, 4)
    # Taken up once: a second delivery does nothing.
    assert whatif_run(run.pk) is None


def test_a_failed_run_records_its_error(ladder, partners, superuser, monkeypatch):
    from gates import whatif

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(whatif, "plan_chunk", broken)
    run = WhatIfRun.objects.create(
        requested_by=superuser, gates=[whatif_entry(ladder.gold_gate)], as_of="2026-01-01"
    )
    with pytest.raises(RuntimeError):
        whatif_run(run.pk)
    run.refresh_from_db()
    assert run.state == WhatIfRun.State.FAILED and "the database went away" in run.error


def test_a_manager_simulates_only_the_partners_he_covers(ladder, channel_manager, superuser, queue):
    covered = PartnerFactory(name="Acme")
    hidden = PartnerFactory(name="Xolotl Systems", country="BR", region="latam")
    for partner in (covered, hidden):
        ladder.certify(partner, 2)
    services.evaluate()
    run = queue(actor=channel_manager, entries=[whatif_entry(ladder.gold_gate, criteria=TWO_PEOPLE)])
    run.refresh_from_db()
    assert run.scope == "the 1 partner you cover"
    assert run.partners_total == 1
    [gate] = run.result["gates"]
    assert (gate["evaluated"], gate["newly_pass"]) == (1, 1)
    assert [m["name"] for m in run.result["movers"]] == ["Acme"]
    assert "Xolotl" not in str(run.result)
    # The run is his: another manager, or anyone not staff, does not see it.
    assert list(WhatIfRun.objects.visible_to(channel_manager)) == [run]
    assert list(WhatIfRun.objects.visible_to(superuser)) == [run]
    other = type(channel_manager).objects.create(username="other", is_staff=True)
    assert not WhatIfRun.objects.visible_to(other).exists()


def test_several_gates_are_one_measuring_pass(ladder, partners, superuser, django_assert_max_num_queries):
    entries = [
        whatif_entry(ladder.silver_gate, criteria={**TWO_PEOPLE, "target": 2}),
        whatif_entry(ladder.gold_gate, criteria={**TWO_PEOPLE, "target": 2}),
    ]
    run = WhatIfRun.objects.create(requested_by=superuser, gates=entries, as_of=partners[0].joined_on)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        whatif_run(run.pk)
    aggregates = [q for q in captured if "GROUP BY" in q["sql"] and "certification" in q["sql"].lower()]
    assert len(aggregates) == 1  # one read of the certifications for both gates
    run.refresh_from_db()
    silver, gold = run.result["gates"]
    assert (silver["newly_fail"], gold["newly_pass"]) == (1, 1)
    # The partner with one engineer falls out of Silver: it keeps it in grace, and loses nothing yet.
    [movement] = run.result["tiers"]
    assert movement["reasons"] == {"grace_started": 1, "promoted": 1}


def test_a_new_gate_not_saved_yet_and_invalid_criteria(ladder, partners, superuser, queue):
    unsaved = Gate(program=ladder.program, name="Two engineers", criteria=TWO_PEOPLE)
    run = queue(actor=superuser, entries=[whatif_entry(unsaved)])
    run.refresh_from_db()
    [gate] = run.result["gates"]
    assert (gate["gate"], gate["would_pass"], gate["newly_pass"], gate["passing_now"]) == (None, 2, 2, 0)
    assert all(m["criterion"].startswith("Meets criteria:") for m in run.result["movers"])
    bad = Gate(program=ladder.program, name="Broken", criteria={"metric": "nope", "op": ">=", "target": 1})
    with pytest.raises(WhatIfError) as caught:
        whatif_queue(actor=superuser, entries=[whatif_entry(bad)])
    assert caught.value.errors[0].startswith("Broken: ")
    with pytest.raises(WhatIfError):
        whatif_queue(actor=superuser, entries=[])


def test_the_movers_csv(ladder, partners, superuser, queue):
    partners[2].name = "=HYPERLINK(1)"
    partners[2].save()
    run = queue(actor=superuser, entries=[whatif_entry(ladder.gold_gate, criteria=TWO_PEOPLE)])
    run.refresh_from_db()
    rows = list(csv.reader(io.StringIO(whatif_movers_csv(run))))
    assert rows[0] == ["partner_id", "partner", "gate", "change", "from_tier", "to_tier", "criterion"]
    assert rows[1][:6] == [
        str(partners[2].pk),
        "'=HYPERLINK(1)",
        "Gold gate",
        "newly passes",
        "Silver",
        "Gold",
    ]
    assert rows[1][6].startswith("Passes without the current criteria:")
    assert len(rows) == 2


def test_a_draft_version_is_used_when_there_is_one(ladder, superuser):
    services.gate_draft_save(actor=superuser, gate=ladder.gold_gate, criteria=TWO_PEOPLE)
    entry = whatif_entry(ladder.gold_gate)
    assert entry["criteria"] == TWO_PEOPLE and entry["draft"]
    assert entry["version"] == GateVersion.objects.get(gate=ladder.gold_gate, state="draft").version
    assert whatif_entry(ladder.silver_gate)["draft"] is False
