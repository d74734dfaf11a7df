"""Each kind of item, from the event or the day that calls for it, to the people who should act."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events.outbox import NewEvent, emit_many
from gates.models import TierChangeReason
from inbox import services
from inbox.models import InboxItem, InboxKind
from inbox.sources import NewItem
from partners.models import MembershipRole
from tests.factories import (
    CertificationFactory,
    MembershipFactory,
    PartnerFactory,
    PersonFactory,
    UserFactory,
)
from tests.inbox.conftest import mdf_request

pytestmark = pytest.mark.django_db


def items_of(user):
    return list(InboxItem.objects.filter(user=user).order_by("id"))


def test_a_promotion_reaches_every_user_of_the_partner_with_a_link_to_the_program(
    emit, partner, partner_admin, partner_sales, other_partner_admin, channel_manager
):
    emit.tier_change(partner)

    for user in (partner_admin, partner_sales):
        [item] = items_of(user)
        assert item.kind == InboxKind.TIER_CHANGE
        assert item.title == "Your tier in Partner Network is now Gold (was Silver)"
        assert item.link == reverse("portal:program_detail", args=["network"])
        assert item.partner == partner and item.read_at is None
    assert items_of(other_partner_admin) == []
    assert items_of(channel_manager) == []  # a promotion is no call for the manager


def test_grace_warns_the_partner_and_its_channel_manager(emit, partner, partner_admin, channel_manager):
    emit.tier_change(
        partner, reason=TierChangeReason.GRACE_STARTED, before=emit.world["gold"], after=emit.world["gold"]
    )

    [own] = items_of(partner_admin)
    assert own.kind == InboxKind.TIER_CHANGE and own.title.startswith("Grace period: keep Gold")
    [managers] = items_of(channel_manager)
    assert managers.kind == InboxKind.AT_RISK
    assert managers.title == "Acme is in grace for Gold in Partner Network"
    assert managers.link == reverse("portal:partner_detail", args=[partner.pk])


def test_a_demotion_is_one_item_not_two(emit, partner, partner_admin):
    emit.tier_change(
        partner, reason=TierChangeReason.DEMOTED, before=emit.world["gold"], after=emit.world["silver"]
    )

    assert [item.title for item in items_of(partner_admin)] == [
        "Your tier in Partner Network is now Silver (was Gold)"
    ]


def test_an_at_risk_warning_says_the_date_and_the_fix(emit, partner, partner_admin, channel_manager):
    row = emit.at_risk(partner)

    [item] = items_of(partner_admin)
    assert item.kind == InboxKind.AT_RISK
    assert row.fails_on.strftime("%B %Y") in item.title and "Gold gate" in item.title
    assert "Fix: Renew Jo Bloggs’s certification before then." in item.body
    assert "1 more certified people" in item.body
    [managers] = items_of(channel_manager)
    assert managers.title.startswith("Acme at risk")


def test_a_submitted_deal_awaits_the_distributor_and_the_manager_not_the_partner(
    emit, partner, partner_admin, distributor_user, channel_manager
):
    deal = emit.deal_submitted(partner)

    assert items_of(partner_admin) == []
    for user in (distributor_user, channel_manager):
        [item] = items_of(user)
        assert item.kind == InboxKind.APPROVAL
        assert item.link == reverse("portal:deal_detail", args=[deal.pk])
        assert item.subject_type == "deals.deal" and item.subject_id == deal.pk


def test_a_deal_under_review_is_the_vendors_call(emit, partner, distributor_user, channel_manager):
    emit.deal_submitted(partner, needs_review=True)

    assert items_of(distributor_user) == []
    assert len(items_of(channel_manager)) == 1


def test_staff_without_the_right_to_decide_get_no_approvals(emit, partner):
    viewer = UserFactory(is_staff=True)
    from partners.models import ManagerProfile

    ManagerProfile.objects.create(user=viewer, regions=[partner.region])
    emit.deal_submitted(partner)

    assert items_of(viewer) == []


def test_an_mdf_request_awaits_the_covering_manager(emit, partner, partner_admin, channel_manager):
    request = emit.mdf_requested(partner)

    [item] = items_of(channel_manager)
    assert item.kind == InboxKind.APPROVAL and item.link == reverse("portal:mdf_detail", args=[request.pk])
    assert items_of(partner_admin) == []


def test_rejecting_an_mdf_request_settles_its_approval(
    emit, django_capture_on_commit_callbacks, partner, channel_manager
):
    from deals import mdf

    request = emit.mdf_requested(partner)
    waiting = emit.mdf_requested(partner)
    decider = UserFactory(is_superuser=True, is_staff=True)
    # Both requests hold their amounts in the period's requested bucket, as a real request does.
    type(request.period).objects.filter(pk=request.period_id).update(
        requested=request.amount + waiting.amount
    )
    with django_capture_on_commit_callbacks(execute=True):
        mdf.mdf_request_reject(actor=decider, request=request, reason="Not a marketing activity.")

    settled = {item.subject_id: item.read_at is not None for item in items_of(channel_manager)}
    assert settled == {request.pk: True, waiting.pk: False}


def test_a_manager_of_another_region_hears_nothing(emit, other_partner, channel_manager, other_partner_admin):
    emit.at_risk(other_partner)

    assert items_of(channel_manager) == []
    assert len(items_of(other_partner_admin)) == 1


def test_reading_the_same_events_twice_writes_nothing_twice(emit, partner, partner_admin):
    emit.tier_change(partner)
    from events.models import OutboxEvent

    ids = [str(pk) for pk in OutboxEvent.objects.values_list("pk", flat=True)]
    services.items_from_outbox(ids)

    assert len(items_of(partner_admin)) == 1


def test_thousands_of_events_cost_the_same_few_queries_as_one(world, partner_admin, partner, channel_manager):
    def batch(partners):
        events = [
            NewEvent(
                "tier.grace_started",
                {
                    "partner_id": p.pk,
                    "partner_name": p.name,
                    "program_id": world["program"].pk,
                    "from_tier_id": world["gold"].pk,
                    "from_tier_name": "Gold",
                    "to_tier_id": world["gold"].pk,
                    "to_tier_name": "Gold",
                    "reason": "grace_started",
                    "effective_on": timezone.localdate(),
                },
                partner_id=p.pk,
                program_id=world["program"].pk,
            )
            for p in partners
        ]
        return [str(pk) for pk in emit_many(events)]

    few = batch([partner])
    many_partners = PartnerFactory.create_batch(200, region=partner.region)
    for p in many_partners:
        MembershipFactory(partner=p, role=MembershipRole.ADMIN)
    many = batch(many_partners)

    with CaptureQueriesContext(connection) as one:
        services.items_from_outbox(few)
    with CaptureQueriesContext(connection) as lots:
        services.items_from_outbox(many)

    assert InboxItem.objects.filter(kind=InboxKind.AT_RISK, user=channel_manager).count() == 201
    assert len(lots) <= len(one) + 1  # one more insert batch at most, never a query per row


def test_claims_due_reach_the_partners_admins_once(partner, partner_admin, partner_sales):
    request = mdf_request(partner, ends_in_days=-2)
    mdf_request(partner, ends_in_days=10, title="Not over yet")

    services.due_items_create()
    services.due_items_create()

    [item] = items_of(partner_admin)
    assert item.kind == InboxKind.MDF_CLAIM_DUE
    assert item.title == "Claim your MDF for “Webinar series”"
    assert item.link == reverse("portal:mdf_detail", args=[request.pk])
    assert items_of(partner_sales) == []  # sellers do not spend MDF


def test_certifications_expiring_within_60_days(partner, partner_admin):
    today = timezone.localdate()
    member = MembershipFactory(partner=partner, role=MembershipRole.TECHNICAL).user
    person = PersonFactory(partner=partner, first_name="Jo", last_name="Bloggs", user=member)
    soon = CertificationFactory(
        person=person,
        issued_on=today - datetime.timedelta(days=300),
        expires_on=today + datetime.timedelta(days=30),
    )
    CertificationFactory(
        person=person,
        issued_on=today - datetime.timedelta(days=300),
        expires_on=today + datetime.timedelta(days=61),
    )

    services.due_items_create(today=today)

    [admins] = items_of(partner_admin)
    assert admins.kind == InboxKind.CERTIFICATION_EXPIRING
    assert admins.title.startswith("Jo Bloggs’s certification") and "In 30 days" in admins.body
    assert admins.subject_id == soon.pk
    [own] = items_of(member)
    assert own.title.startswith("Your certification")


def test_announcements_reach_their_audience_once(
    world, partner, partner_admin, other_partner_admin, distributor_user, channel_manager
):
    from gates.models import SegmentMembership
    from inbox.models import Announcement
    from tests.factories import SegmentFactory

    segment = SegmentFactory(name="UK resellers")
    SegmentMembership.objects.create(segment=segment, partner=partner)
    news = Announcement.objects.create(title="New rebate", body="Rebates rise to 4%.")
    news.segments.set([segment])
    everyone = Announcement.objects.create(title="Portal upgrade", body="New pages.")
    everyone.programs.set([world["program"]])

    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.get(pk=channel_manager.pk)
    services.announcement_publish(actor=manager, announcement=news)
    services.announcement_publish(actor=manager, announcement=news)
    services.announcement_publish(actor=manager, announcement=everyone)

    assert [i.title for i in items_of(partner_admin)] == ["New rebate", "Portal upgrade"]
    assert [i.title for i in items_of(distributor_user)] == ["New rebate", "Portal upgrade"]
    assert [i.title for i in items_of(other_partner_admin)] == ["Portal upgrade"]
    assert items_of(channel_manager) == []


def test_publishing_takes_the_right_to(world, channel_manager, partner_admin):
    from django.contrib.auth.models import Group
    from django.core.exceptions import ValidationError

    from inbox.models import Announcement
    from partners.roles import CHANNEL_MANAGERS

    news = Announcement.objects.create(title="New rebate", body="Rebates rise.")
    with pytest.raises(ValidationError):
        services.announcement_publish(actor=partner_admin, announcement=news)
    # Channel managers hold the right with their role; nobody's role reads another's inbox.
    role = {p.codename for p in Group.objects.get(name=CHANNEL_MANAGERS).permissions.all()}
    assert "change_announcement" in role
    assert not {"view_inboxitem", "change_inboxitem", "view_inboxpreference"} & role
    assert services.announcement_publish(actor=channel_manager, announcement=news) == 1  # Acme's admin


def test_scheduled_announcements_go_out_with_the_daily_run(partner, partner_admin):
    from inbox.models import Announcement

    Announcement.objects.create(
        title="Later", body="…", published_at=timezone.now() + datetime.timedelta(days=1)
    )
    Announcement.objects.create(
        title="Due", body="…", published_at=timezone.now() - datetime.timedelta(hours=1)
    )

    services.due_items_create()

    assert [i.title for i in items_of(partner_admin)] == ["Due"]


def test_a_decision_settles_the_approval_for_every_approver(
    emit, django_capture_on_commit_callbacks, partner, distributor_user, channel_manager
):
    from deals.events import deal_event

    deal = emit.deal_submitted(partner)
    other = emit.deal_submitted(partner)
    deal.status = "approved"
    deal.save()
    with django_capture_on_commit_callbacks(execute=True):
        deal_event("deal.approved", deal)

    for user in (distributor_user, channel_manager):
        settled = {item.subject_id: item.read_at is not None for item in items_of(user)}
        assert settled == {deal.pk: True, other.pk: False}


def test_the_daily_run_catches_up_on_events_whose_task_never_ran(world, partner, partner_admin):
    from gates.events import plan_events

    # Recorded and committed, but the process died before the inbox heard of it.
    plan_events(
        [], [(partner.pk, world["program"].pk, None, world["silver"].pk, "promoted", timezone.localdate())]
    )
    assert items_of(partner_admin) == []

    services.due_items_create()
    services.due_items_create()

    assert [item.title for item in items_of(partner_admin)] == ["You reached Silver in Partner Network"]


# --- at-risk items follow their forecast ---------------------------------------------------------


def _risk_items(user):
    return [item for item in items_of(user) if item.subject_type == "gates.gate"]


def test_an_at_risk_item_follows_its_episode_in_place_until_it_ends(
    django_capture_on_commit_callbacks, partner, partner_admin, channel_manager
):
    from gates import services as gate_services
    from gates.forecast import forecasts_refresh
    from tests.gates.conftest import Ladder

    day = datetime.date(2026, 3, 1)
    ladder = Ladder()  # Gold: three certified sales engineers
    expiring = ladder.certify(partner, 1, expires_on=day + datetime.timedelta(days=30))[0]
    ladder.certify(partner, 2)

    def forecast(days: int) -> None:
        as_of = day + datetime.timedelta(days=days)
        with django_capture_on_commit_callbacks(execute=True):
            gate_services.evaluate(as_of=as_of, notify=False)
            forecasts_refresh(as_of=as_of, notify=False)

    forecast(0)
    [own] = _risk_items(partner_admin)
    [managers] = _risk_items(channel_manager)
    assert own.title == "At risk: “Gold gate” would no longer be met on 1 April 2026"
    assert managers.title == "Acme at risk: “Gold gate” fails on 1 April 2026"
    # Gold's 90 days of grace: what the tier engine would do is part of the warning.
    assert own.body.endswith("You would keep Gold until 30 June 2026 and lose it on 1 July 2026.")
    services.item_mark_read(actor=partner_admin, item_id=own.pk)

    # Renewed for a fortnight: the day moves later. The same item says so, and stays read.
    expiring.expires_on = day + datetime.timedelta(days=45)
    expiring.save()
    forecast(1)
    [own] = _risk_items(partner_admin)
    assert own.title == "At risk: “Gold gate” would no longer be met on 16 April 2026"
    assert own.read_at is not None
    assert "Fix: 1 certification expires on 15 April 2026" in own.body

    # Sooner than the day told: the same item again, with the new day and fix, unread.
    expiring.expires_on = day + datetime.timedelta(days=10)
    expiring.save()
    forecast(2)
    [own] = _risk_items(partner_admin)
    [managers] = _risk_items(channel_manager)
    assert own.title == "At risk: “Gold gate” would no longer be met on 12 March 2026"
    assert own.read_at is None
    assert "Fix: 1 certification expires on 11 March 2026" in own.body
    assert own.body.endswith("You would keep Gold until 10 June 2026 and lose it on 11 June 2026.")
    assert managers.title == "Acme at risk: “Gold gate” fails on 12 March 2026"

    # Renewed for good: the episode ends by recovery; the item says so and asks nothing more.
    expiring.expires_on = None
    expiring.save()
    forecast(3)
    [own] = _risk_items(partner_admin)
    [managers] = _risk_items(channel_manager)
    assert own.title == "Safe again: “Gold gate” is met through its horizon"
    assert own.read_at is not None
    assert "4 March 2026" in own.body
    assert managers.title == "Acme safe again: “Gold gate”" and managers.read_at is not None

    # A new episode later is a new item; the ended one keeps its ending.
    expiring.expires_on = day + datetime.timedelta(days=20)
    expiring.save()
    forecast(4)
    titles = [item.title for item in _risk_items(partner_admin)]
    assert titles == [
        "Safe again: “Gold gate” is met through its horizon",
        "At risk: “Gold gate” would no longer be met on 22 March 2026",
    ]


def test_an_at_risk_item_says_when_the_gate_failed_and_stays_unread(
    django_capture_on_commit_callbacks, partner, partner_admin
):
    from gates import services as gate_services
    from gates.forecast import forecasts_refresh
    from tests.gates.conftest import Ladder

    day = datetime.date(2026, 3, 1)
    ladder = Ladder()
    ladder.certify(partner, 1, expires_on=day + datetime.timedelta(days=5))
    ladder.certify(partner, 2)
    for as_of in (day, day + datetime.timedelta(days=6)):
        with django_capture_on_commit_callbacks(execute=True):
            gate_services.evaluate(as_of=as_of, notify=False)
            forecasts_refresh(as_of=as_of, notify=False)

    [own] = _risk_items(partner_admin)
    assert own.title == "No longer met: “Gold gate”"
    assert own.body == "The gate failed on 7 March 2026."
    assert own.read_at is None


def test_an_override_holding_the_tier_ends_the_at_risk_item_as_nothing_to_do(
    django_capture_on_commit_callbacks, partner, partner_admin, channel_manager
):
    from gates import services as gate_services
    from gates.forecast import forecasts_refresh
    from gates.models import PartnerTier
    from tests.gates.conftest import Ladder

    day = datetime.date(2026, 3, 1)
    ladder = Ladder()
    ladder.certify(partner, 1, expires_on=day + datetime.timedelta(days=5))
    ladder.certify(partner, 2)
    with django_capture_on_commit_callbacks(execute=True):
        gate_services.evaluate(as_of=day, notify=False)
        forecasts_refresh(as_of=day, notify=False)
    PartnerTier.objects.filter(partner=partner).update(
        override_tier=ladder.gold, override_reason="Launch partner", override_expires_on=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        forecasts_refresh(as_of=day + datetime.timedelta(days=1), notify=False)

    [own] = _risk_items(partner_admin)
    [managers] = _risk_items(channel_manager)
    assert own.title == "Not at risk: an override holds the tier of “Gold gate”"
    assert own.read_at is not None
    assert managers.title == "Acme not at risk: an override holds the tier of “Gold gate”"


def test_the_daily_run_rewrites_at_risk_items_a_crash_left_stale(
    django_capture_on_commit_callbacks, partner, partner_admin
):
    from gates import services as gate_services
    from gates.forecast import forecasts_refresh
    from tests.gates.conftest import Ladder

    day = datetime.date(2026, 3, 1)
    ladder = Ladder()
    expiring = ladder.certify(partner, 1, expires_on=day + datetime.timedelta(days=30))[0]
    ladder.certify(partner, 2)
    with django_capture_on_commit_callbacks(execute=True):
        gate_services.evaluate(as_of=day, notify=False)
        forecasts_refresh(as_of=day, notify=False)
    [own] = _risk_items(partner_admin)
    services.item_mark_read(actor=partner_admin, item_id=own.pk)

    # The day moves later, but the process dies before the inbox hears of it.
    expiring.expires_on = day + datetime.timedelta(days=45)
    expiring.save()
    gate_services.evaluate(as_of=day + datetime.timedelta(days=1), notify=False)
    forecasts_refresh(as_of=day + datetime.timedelta(days=1), notify=False)
    [own] = _risk_items(partner_admin)
    assert "1 April 2026" in own.title

    services.due_items_create(today=day + datetime.timedelta(days=1))
    services.due_items_create(today=day + datetime.timedelta(days=1))

    [own] = _risk_items(partner_admin)
    assert own.title == "At risk: “Gold gate” would no longer be met on 16 April 2026"
    assert own.read_at is not None

    # It recovers, and again nobody hears of it: the daily run says it is over.
    expiring.expires_on = None
    expiring.save()
    gate_services.evaluate(as_of=day + datetime.timedelta(days=2), notify=False)
    forecasts_refresh(as_of=day + datetime.timedelta(days=2), notify=False)
    services.due_items_create(today=day + datetime.timedelta(days=2))
    [own] = _risk_items(partner_admin)
    assert own.title == "Safe again: “Gold gate” is met through its horizon"


def _refresh_queries(partner, user, gates: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gates.models import Gate, GateForecast, GateState
    from programs.models import Program

    program = Program.objects.first() or Program.objects.create(name="Network", slug="network")
    day = datetime.date(2026, 3, 1)
    pairs = []
    for n in range(gates):
        gate = Gate.objects.create(
            program=program,
            name=f"Gate {gates}-{n}",
            state=GateState.ACTIVE,
            criteria={"metric": "certified_people", "op": ">=", "target": 1},
        )
        GateForecast.objects.create(
            partner=partner,
            gate=gate,
            at_risk=True,
            fails_on=day + datetime.timedelta(days=20),
            shortfall="1 more certified person",
            as_of=day,
            episode_started_on=day,
        )
        services.items_create(
            [
                NewItem(
                    user_id=user.pk,
                    kind=InboxKind.AT_RISK,
                    title="At risk",
                    dedupe_key=f"risk-{gate.pk}",
                    partner_id=partner.pk,
                    subject_type="gates.gate",
                    subject_id=gate.pk,
                )
            ]
        )
        pairs.append([partner.pk, gate.pk])
    GateForecast.objects.filter(partner=partner, gate_id=pairs[0][1]).update(at_risk=False, fails_on=None)
    with CaptureQueriesContext(connection) as queries:
        changed = services.risk_items_refresh(
            moved=pairs[1:], closer=pairs[1:2], ended=[[*pairs[0], "recovered"]], as_of=day
        )
    assert changed == gates
    return len(queries)


def test_refreshing_at_risk_items_costs_the_same_queries_for_many_episodes(partner_admin, partner):
    # The forecasts, the items, one bulk update.
    assert _refresh_queries(partner, partner_admin, 3) == _refresh_queries(partner, partner_admin, 12) == 3
