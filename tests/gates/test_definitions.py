"""A change of definitions reaches every partner it can affect, and only those, on every path.

Each test edits one input of a decision the way the admin or the API does
(committed, with the re-evaluation it queues held back), runs the nightly
evaluation or the one-partner one, checks that exactly the expected partners
moved, and that a dry run right after (of everything, and of each gate) finds
nothing left to do.
"""

import datetime
import re
from collections import defaultdict
from contextlib import contextmanager
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command

from core.models import ExchangeRate
from gates import services
from gates.models import (
    BenefitGrant,
    Gate,
    GateOutcome,
    GateState,
    GateStatus,
    PartnerTier,
    SegmentMembership,
    TierChange,
    TierChangeReason,
)
from partners.models import ProductLine
from partners.services import exchange_rate_save
from programs.models import BenefitKind, Program
from programs.versioning import segment_draft_save, segment_version_publish
from tests.factories import BenefitFactory, PartnerFactory, SaleFactory, SegmentFactory, publish_criteria

pytestmark = pytest.mark.django_db
D = datetime.date
TODAY = D(2026, 3, 1)
DAY = datetime.timedelta(days=1)


def nightly(partners, as_of=TODAY):
    services.evaluate(as_of=as_of)


def one_by_one(partners, as_of=TODAY):
    for partner in partners:
        services.evaluate_partner(partner.pk, as_of=as_of)


PATHS = pytest.mark.parametrize("run", [nightly, one_by_one], ids=["nightly", "one-partner"])


def results() -> dict[int, set]:
    """Everything an evaluation decides, by partner."""
    found: dict[int, set] = defaultdict(set)
    for partner_id, *row in GateStatus.objects.values_list("partner_id", "gate_id", "status"):
        found[partner_id].add(("status", *row))
    for partner_id, *row in PartnerTier.objects.values_list("partner_id", "tier_id", "grace_until"):
        found[partner_id].add(("tier", *row))
    for partner_id, *row in BenefitGrant.objects.filter(revoked_at__isnull=True).values_list(
        "partner_id", "benefit_id"
    ):
        found[partner_id].add(("benefit", *row))
    for partner_id, *row in SegmentMembership.objects.values_list("partner_id", "segment_id"):
        found[partner_id].add(("segment", *row))
    return found


def moved(before: dict[int, set], after: dict[int, set]) -> set[int]:
    return {
        partner_id for partner_id in before.keys() | after.keys() if before[partner_id] != after[partner_id]
    }


def assert_settled(as_of=TODAY) -> None:
    """A dry run finds nothing to do, whether it covers every gate or one of them."""
    everything = services.evaluate(as_of=as_of, dry_run=True)
    assert (
        everything.statuses_written,
        everything.tiers_changed,
        everything.benefits_granted,
        everything.benefits_revoked,
        everything.segment_changes,
    ) == (0, 0, 0, 0, 0), everything.events
    for gate in Gate.objects.in_effect(as_of):
        one_gate = services.evaluate(as_of=as_of, gate_ids=[gate.pk], dry_run=True)
        assert (one_gate.statuses_written, one_gate.tiers_changed) == (0, 0), (gate.name, one_gate.events)


@pytest.fixture
def edit(django_capture_on_commit_callbacks):
    """Commit an edit, holding back the run it queues: yields the mock that records the queueing."""

    @contextmanager
    def committed():
        with (
            mock.patch("gates.tasks.evaluate_all_gates.apply_async") as queued,
            django_capture_on_commit_callbacks(execute=True),
        ):
            yield queued

    return committed


def held(partner, ladder) -> str | None:
    row = PartnerTier.objects.filter(partner=partner, program=ladder.program).select_related("tier").first()
    return row.tier.name if row and row.tier else None


def change_gate(gate, **changes) -> None:
    """Edit a gate as the admin and the API do: save, then hand over to ``gate_saved``."""
    before = services.gate_definition(Gate.objects.get(pk=gate.pk))
    benefits = changes.pop("unlocks_benefits", None)
    if before.state == "active" and "criteria" in changes:
        # An active gate's criteria change by publishing a version.
        publish_criteria(gate, changes.pop("criteria"))
        before = services.gate_definition(Gate.objects.get(pk=gate.pk))
    for name, value in changes.items():
        setattr(gate, name, value)
    gate.save()
    if benefits is not None:
        gate.unlocks_benefits.set(benefits)
    services.gate_saved(actor=None, gate=gate, before=before)


@PATHS
def test_a_lower_target_passes_exactly_the_partners_that_now_meet_it(ladder, edit, run):
    one, two, three = PartnerFactory(), PartnerFactory(), PartnerFactory()
    for partner, count in ((one, 1), (two, 2), (three, 3)):
        ladder.certify(partner, count)
    services.evaluate(as_of=TODAY)
    assert_settled()
    before = results()

    with edit() as queued:
        change_gate(ladder.gold_gate, criteria={**ladder.gold_gate.criteria, "target": 2})
    queued.assert_called_once()

    run([one, two, three])
    assert moved(before, results()) == {two.pk}
    assert held(two, ladder) == "Gold"
    # Every partner's result is decided under the new version, the unchanged ones too.
    assert set(GateStatus.objects.filter(gate=ladder.gold_gate).values_list("gate_version", flat=True)) == {2}
    assert_settled()


def test_the_dry_runs_agree_on_what_an_edit_changes(ladder, edit):
    one, two = PartnerFactory(), PartnerFactory()
    ladder.certify(one, 1)
    ladder.certify(two, 2)
    services.evaluate(as_of=TODAY)
    with edit():
        change_gate(ladder.gold_gate, criteria={**ladder.gold_gate.criteria, "target": 2})

    def dry_run(*options) -> str:
        out = StringIO()
        call_command("evaluate_gates", "--dry-run", "--as-of", TODAY.isoformat(), *options, stdout=out)
        return out.getvalue()

    everything = dry_run()
    one_gate = dry_run("--gate", str(ladder.gold_gate.pk))
    for output in (everything, one_gate):
        assert re.search(r"; 1 gate statuses would change, 1 tier moves", output), output
        assert f"{two.name}: Passed the gate “Gold gate”." in output
    assert f"{one.name}:" not in everything + one_gate


@PATHS
def test_a_gate_that_unlocks_a_new_benefit_grants_it_to_the_partners_passing_it(ladder, edit, run):
    silver, gold = PartnerFactory(), PartnerFactory()
    ladder.certify(silver, 1)
    ladder.certify(gold, 3)
    services.evaluate(as_of=TODAY)
    co_selling = BenefitFactory(program=ladder.program, name="Co-selling", kind=BenefitKind.CO_SELLING)
    before = results()

    with edit() as queued:
        change_gate(ladder.gold_gate, unlocks_benefits=[co_selling])
    queued.assert_called_once()

    run([silver, gold])
    assert moved(before, results()) == {gold.pk}
    assert BenefitGrant.objects.get(benefit=co_selling, revoked_at__isnull=True).partner == gold
    assert_settled()

    # And a gate that unlocks a tier no more: the partners holding it start its grace.
    before = results()
    with edit():
        change_gate(ladder.gold_gate, unlocks_tier=None, unlocks_benefits=[])
    run([silver, gold])
    assert moved(before, results()) == {gold.pk}
    row = PartnerTier.objects.get(partner=gold)
    assert row.tier == ladder.gold and row.grace_until == TODAY + 90 * DAY
    assert not BenefitGrant.objects.filter(benefit=co_selling, revoked_at__isnull=True).exists()
    assert_settled()


@PATHS
def test_a_segment_rule_moved_to_at_least_admits_the_partner_exactly_at_the_boundary(ladder, edit, run):
    ExchangeRate.objects.create(currency="GBP", valid_from=D(2025, 1, 1), rate=Decimal("1.27"))
    cloud = ProductLine.objects.get(code="cloud")
    rule = {
        "all": [
            {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["GB"]},
            {"metric": "sales_amount", "product_lines": ["cloud"], "op": ">", "target": "1000000.00"},
        ]
    }
    segment = SegmentFactory(name="UK cloud, over £1M", currency="GBP", criteria=rule)
    program = Program.objects.create(name="Cloud elite", slug="cloud-elite", segment=segment)
    partners = {}
    for name, country, amount in (
        ("below", "GB", "999999.99"),
        ("at", "GB", "1000000.00"),
        ("above", "GB", "1000000.01"),
        ("abroad", "US", "2000000.00"),
    ):
        partners[name] = PartnerFactory(name=name, country=country)
        SaleFactory(
            partner=partners[name],
            amount=Decimal(amount),
            currency="GBP",
            product_line=cloud,
            closed_on=D(2026, 1, 15),
        )
    services.evaluate(as_of=TODAY)
    assert set(segment.memberships.values_list("partner__name", flat=True)) == {"above"}
    before = results()

    with edit() as queued:
        # In use by the program, the segment changes by a published version.
        draft = segment_draft_save(
            actor=None, segment=segment, criteria={"all": [rule["all"][0], {**rule["all"][1], "op": ">="}]}
        )
        segment_version_publish(actor=None, draft=draft)
    queued.assert_called_once()  # publishing saves the segment, which queues the re-evaluation

    run(list(partners.values()))
    assert moved(before, results()) == {partners["at"].pk}
    assert set(segment.memberships.values_list("partner__name", flat=True)) == {"at", "above"}
    assert program in Program.objects.for_partner(partners["at"])
    assert program not in Program.objects.for_partner(partners["below"])
    assert_settled()


@PATHS
def test_a_shorter_grace_ends_the_graces_it_no_longer_covers(ladder, edit, run):
    early, late, steady = PartnerFactory(), PartnerFactory(), PartnerFactory()
    certifications = {partner.pk: ladder.certify(partner, 3) for partner in (early, late, steady)}
    services.evaluate(as_of=TODAY - 45 * DAY)
    certifications[early.pk][0].delete()
    services.evaluate(as_of=TODAY - 40 * DAY)  # early's 90 days of grace start
    certifications[late.pk][0].delete()
    services.evaluate(as_of=TODAY - 10 * DAY)  # and late's
    services.evaluate(as_of=TODAY)
    assert [held(partner, ladder) for partner in (early, late, steady)] == ["Gold"] * 3
    assert_settled()
    before = results()

    with edit() as queued:
        ladder.gold.grace_days = 30
        ladder.gold.save()
    queued.assert_called_once()

    run([early, late, steady])
    assert moved(before, results()) == {early.pk, late.pk}
    # Early's grace ended ten days ago: it holds what it qualifies for.
    assert held(early, ladder) == "Silver"
    # Late keeps Gold through its shorter grace, which now ends 30 days after it began.
    row = PartnerTier.objects.get(partner=late)
    assert (row.tier, row.grace_until) == (ladder.gold, TODAY + 20 * DAY)
    assert TierChange.objects.filter(partner=late, reason=TierChangeReason.GRACE_CHANGED).get().note == (
        f"grace until {(TODAY + 20 * DAY).isoformat()}"
    )
    assert held(steady, ladder) == "Gold"
    assert_settled()


@PATHS
def test_a_new_exchange_rate_moves_only_the_partners_selling_in_its_currency(ladder, edit, run):
    exchange_rate_save(
        actor=None, rate=ExchangeRate(currency="EUR", valid_from=D(2025, 1, 1), rate=Decimal("1.2"))
    )
    gate = Gate.objects.create(
        program=ladder.program,
        name="Quarterly sales",
        state=GateState.ACTIVE,
        criteria={
            "metric": "sales_amount",
            "window": {"kind": "quarter_to_date"},
            "op": ">=",
            "target": "100000",
        },
    )
    euro, dollar, big_euro = PartnerFactory(), PartnerFactory(), PartnerFactory()
    SaleFactory(partner=euro, amount=Decimal("80000.00"), currency="EUR", closed_on=D(2026, 2, 1))
    SaleFactory(partner=dollar, amount=Decimal("96000.00"), currency="USD", closed_on=D(2026, 2, 1))
    SaleFactory(partner=big_euro, amount=Decimal("90000.00"), currency="EUR", closed_on=D(2026, 2, 1))
    services.evaluate(as_of=TODAY)
    assert GateStatus.objects.get(partner=euro, gate=gate).measures == ["96000.00"]
    before = results()

    with edit() as queued:
        exchange_rate_save(
            actor=None, rate=ExchangeRate(currency="EUR", valid_from=D(2026, 1, 1), rate=Decimal("1.3"))
        )
    queued.assert_called_once()

    run([euro, dollar, big_euro])
    assert moved(before, results()) == {euro.pk}
    assert GateStatus.objects.get(partner=euro, gate=gate).status == GateOutcome.PASSED
    # Still passing, with the amount converted at the new rate.
    assert GateStatus.objects.get(partner=big_euro, gate=gate).measures == ["117000.00"]
    assert GateStatus.objects.get(partner=dollar, gate=gate).measures == ["96000.00"]
    assert_settled()


def test_the_digest_covers_every_definition_a_decision_reads(ladder):
    """The definitions' signature moves with each input of a decision, and not with a name."""
    from gates.subjects import load_subjects
    from partners.models import CertificationType

    def signature() -> str:
        return load_subjects(as_of=TODAY).signature

    seen = {signature()}

    def changed() -> bool:
        new = signature()
        fresh = new not in seen
        seen.add(new)
        return fresh

    gate = ladder.gold_gate
    publish_criteria(gate, {**gate.criteria, "target": 4})
    assert changed()
    Gate.objects.filter(pk=gate.pk).update(version=7)
    assert changed()
    gate.prerequisites.set([ladder.silver_gate])
    assert changed()
    gate.unlocks_benefits.set([ladder.silver_discount])
    assert changed()
    ladder.gold.grace_days = 10
    ladder.gold.save()
    assert changed()
    ladder.gold_discount.tiers.add(ladder.silver)
    assert changed()
    SegmentFactory(
        criteria={"metric": "partner_attribute", "attribute": "region", "op": "in", "target": ["emea"]}
    )
    assert changed()
    CertificationType.objects.filter(code="sales-engineer").update(validity_months=12)
    assert changed()
    ladder.program.base_currency = "EUR"
    ladder.program.save()
    assert changed()
    # Cosmetic edits leave it alone.
    Gate.objects.filter(pk=gate.pk).update(name="Gold, renamed", description="Now with a description.")
    ladder.gold.name = "Golden"
    ladder.gold.save()
    assert not changed()


@PATHS
def test_a_new_day_moves_the_partners_whose_window_moved(ladder, run):
    """The as-of day reaches the digest through what is measured on it: a sale leaving a window."""
    Gate.objects.create(
        program=ladder.program,
        name="Sales this month",
        state=GateState.ACTIVE,
        criteria={
            "metric": "sales_amount",
            "window": {"kind": "rolling_days", "days": 30},
            "op": ">=",
            "target": "1000",
        },
    )
    leaving, staying = PartnerFactory(), PartnerFactory()
    ladder.sell(leaving, "1500.00", TODAY - 29 * DAY)  # its last day in the window is today
    ladder.sell(staying, "1500.00", TODAY - 5 * DAY)
    services.evaluate(as_of=TODAY)
    assert_settled()
    before = results()

    run([leaving, staying], as_of=TODAY + DAY)
    assert moved(before, results()) == {leaving.pk}
    assert_settled(as_of=TODAY + DAY)
