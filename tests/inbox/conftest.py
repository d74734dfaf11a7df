import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from deals.events import deal_event, mdf_event
from deals.models import MdfPeriod, MdfRequest, MdfStatus
from gates.events import forecast_events, plan_events
from gates.models import Gate, GateForecast, GateState, TierChangeReason
from tests.factories import DealFactory, ProgramFactory, TierFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db):
    program = ProgramFactory(name="Partner Network", slug="network")
    silver = TierFactory(program=program, name="Silver", rank=1)
    gold = TierFactory(program=program, name="Gold", rank=2)
    gate = Gate.objects.create(
        program=program,
        name="Gold gate",
        state=GateState.ACTIVE,
        unlocks_tier=gold,
        criteria={"metric": "certified_people", "op": ">=", "target": 1},
    )
    return {"program": program, "silver": silver, "gold": gold, "gate": gate}


class Emit:
    """The product's own emitters, committed: the inbox hears them through the outbox's signal."""

    def __init__(self, capture, world):
        self.capture = capture
        self.world = world

    def tier_change(self, partner, reason=TierChangeReason.PROMOTED, before=None, after=None):
        world = self.world
        before = world["silver"] if before is None else before
        after = world["gold"] if after is None else after
        with self.capture(execute=True):
            plan_events(
                [],
                [
                    (
                        partner.pk,
                        world["program"].pk,
                        before.pk if before else None,
                        after.pk if after else None,
                        reason,
                        timezone.localdate(),
                    )
                ],
            )

    def at_risk(self, partner, fails_in_days=20):
        fails_on = timezone.localdate() + datetime.timedelta(days=fails_in_days)
        row = GateForecast.objects.create(
            partner=partner,
            gate=self.world["gate"],
            at_risk=True,
            fails_on=fails_on,
            criterion="certified people >= 1",
            shortfall="1 more certified people",
            fix="Renew Jo Bloggs’s certification before then.",
            as_of=timezone.localdate(),
        )
        with self.capture(execute=True):
            forecast_events([(row, None)], [])
        return row

    def deal_submitted(self, partner, **fields):
        deal = DealFactory(partner=partner, **fields)
        with self.capture(execute=True):
            deal_event("deal.submitted", deal)
        return deal

    def mdf_requested(self, partner):
        request = mdf_request(partner, status=MdfStatus.REQUESTED)
        with self.capture(execute=True):
            mdf_event("mdf.requested", request)
        return request


def mdf_request(partner, *, status=MdfStatus.APPROVED, ends_in_days=-1, title="Webinar series"):
    today = timezone.localdate()
    period, _ = MdfPeriod.objects.get_or_create(
        partner=partner,
        starts_on=today.replace(day=1) - datetime.timedelta(days=60),
        defaults={
            "ends_on": today + datetime.timedelta(days=60),
            "currency": "USD",
            "allowance": Decimal(10000),
        },
    )
    approved = status != MdfStatus.REQUESTED
    return MdfRequest.objects.create(
        partner=partner,
        period=period,
        title=title,
        activity_kind="digital",
        starts_on=today - datetime.timedelta(days=30),
        ends_on=today + datetime.timedelta(days=ends_in_days),
        amount=Decimal("1500.00"),
        currency="USD",
        status=status,
        approved_amount=Decimal("1500.00") if approved else None,
    )


@pytest.fixture
def emit(django_capture_on_commit_callbacks, world):
    return Emit(django_capture_on_commit_callbacks, world)
