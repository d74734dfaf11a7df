"""Nothing escapes the history: every model of the project is recorded, or named here with the reason.

A new model fails this test until it is decorated with ``@tracked()`` or
added below with why its rows need no history of their own.
"""

from pathlib import Path

import pghistory.core
from django.apps import apps
from django.conf import settings
from pghistory.models import Event

# label -> why the history does not record it
NOT_RECORDED = {
    "core.auditentry": "the log of business actions itself, append-only",
    "core.dailyrate": "derived from the exchange rates (recorded) by core.exchange",
    "gates.gateversion": "a copy of each gate's definition, written when the gate (recorded) is saved",
    "programs.segmentversion": "a copy of each segment's definition, written when the segment (recorded) is "
    "saved; drafting and publishing are audited",
    "gates.gatestatus": "a result of the evaluation, recomputed from definitions and facts",
    "gates.gatestatuschange": "the history of gate statuses itself",
    "gates.evaluationrun": "the bookkeeping of evaluation runs",
    "inbox.inboxitem": "a notice derived from recorded events; only its read and mailed times change",
    "inbox.inboxpreference": "a user's own choice of delivery, changed by that user only",
    "inbox.inboxdigest": "the bookkeeping of digests sent",
    "gates.whatifrun": "a report of a simulation, written once by the run and never edited",
    "gates.replayrun": "a report of a replay against history, written once by the run and never edited",
    "gates.replayrow": "a row of a replay's report, written with it and never edited",
    "gates.tierchange": "the history of tiers (and of overrides) itself",
    "gates.benefitgrant": "a result of the evaluation",
    "gates.segmentmembership": "a result of the evaluation",
    "gates.measuredigest": "a cache of what a partner's last decision read",
    "gates.gateforecast": "a result of the forecast, recomputed nightly from definitions and facts",
    "gates.gateriskepisode": "the history of at-risk forecasts itself",
    "deals.mdfperiod": "the running totals of the MDF ledger, changed only with a ledger entry",
    "deals.mdfledgerentry": "an append-only ledger of money movements",
    "incentives.incentiveperiod": "the closing state of a period, audited when closed",
    "incentives.payout": "a payout's lifecycle, each move audited",
    "incentives.ledgerentry": "an immutable ledger: the database refuses to change an entry",
    "incentives.ledgertransition": "the history of ledger entries itself",
    "incentives.redemption": "a ledger movement of points, audited when made",
    "events.outboxevent": "the outbox of events itself, append-only",
    "api.idempotencykey": "a stored answer to replay, purged after a day",
    "webhooks.webhooksubscription": "holds its signing secrets; each change is audited by webhooks.services",
    "webhooks.webhookdelivery": "the delivery log itself",
    "webhooks.deliveryattempt": "the delivery log itself, append-only",
}


def project_models():
    root = Path(settings.BASE_DIR)
    for model in apps.get_models(include_auto_created=True):
        module = Path(apps.get_app_config(model._meta.app_label).path)
        if root not in module.parents or ".venv" in module.parts:
            continue
        if issubclass(model, Event) or model._meta.proxy:
            continue
        yield model


def recorded() -> set:
    return {m.pgh_tracked_model._meta.concrete_model for m in pghistory.core.event_models()}


def test_every_model_of_the_project_is_recorded_or_named_with_a_reason():
    tracked = recorded()
    missing = [
        model._meta.label_lower
        for model in project_models()
        if model not in tracked
        and model._meta.label_lower not in NOT_RECORDED
        and not model._meta.auto_created
    ]

    assert missing == [], f"record these models with @tracked(), or say here why not: {missing}"


def test_the_links_of_every_recorded_model_are_recorded():
    tracked = recorded()
    missing = [
        f"{model._meta.label_lower}.{field.name}"
        for model in tracked
        for field in model._meta.local_many_to_many
        if field.remote_field.through not in tracked
    ]

    assert missing == []


def test_what_is_named_here_exists_and_is_not_recorded():
    labels = {model._meta.label_lower for model in project_models()}
    tracked = {model._meta.label_lower for model in recorded()}

    assert set(NOT_RECORDED) <= labels
    assert set(NOT_RECORDED).isdisjoint(tracked)


def test_object_permission_grants_are_recorded():
    from guardian.models import GroupObjectPermission, UserObjectPermission

    assert {UserObjectPermission, GroupObjectPermission} <= recorded()
