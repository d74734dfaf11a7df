"""The audit trail and the exchange rates live in core, over the tables they had in partners.

The move was a change of migration state only; these checks hold it to that:
the tables and their names stay, the history triggers are installed exactly
once under the new label, and an edit of a rate is still recorded.
"""

from decimal import Decimal

import pgtrigger
import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from core.models import AuditEntry, DailyRate, ExchangeRate
from history.selectors import object_history
from partners.services import exchange_rate_save
from tests.factories import ExchangeRateFactory

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the history triggers exist on PostgreSQL only"
)


def test_the_models_keep_their_tables():
    assert AuditEntry._meta.db_table == "partners_auditentry"
    assert ExchangeRate._meta.db_table == "partners_exchangerate"
    assert DailyRate._meta.db_table == "partners_dailyrate"
    assert ExchangeRate.pgh_event_model._meta.db_table == "partners_exchangerateevent"
    assert ExchangeRate.pgh_event_model._meta.label == "core.ExchangeRateEvent"


@pytest.mark.django_db
def test_content_types_name_the_new_app():
    for model in (AuditEntry, ExchangeRate, DailyRate, ExchangeRate.pgh_event_model):
        assert ContentType.objects.get_for_model(model).app_label == "core"
    assert not ContentType.objects.filter(
        app_label="partners", model__in=["auditentry", "exchangerate", "dailyrate", "exchangerateevent"]
    ).exists()


@postgresql_only
@pytest.mark.django_db
def test_every_trigger_in_the_database_is_a_registered_one_installed_once():
    registered = sorted(trigger.get_pgid(model) for model, trigger in pgtrigger.registered())
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'pgtrigger_%%'")
        installed = sorted(name for (name,) in cursor.fetchall())

    assert installed == registered
    rate_triggers = [
        trigger.get_pgid(model) for model, trigger in pgtrigger.registered() if model is ExchangeRate
    ]
    assert len(rate_triggers) == 3


@postgresql_only
@pytest.mark.django_db
def test_an_exchange_rate_edit_is_recorded_and_audited(superuser):
    rate = ExchangeRateFactory(rate=Decimal("1.1"))
    rate.rate = Decimal("1.2")

    exchange_rate_save(actor=superuser, rate=rate)

    change = object_history(rate)[0]
    assert change.model == "core.exchangerate"
    assert (change.action, change.before["rate"], change.after["rate"]) == (
        "changed",
        "1.1000000000",
        "1.2000000000",
    )
    assert ExchangeRate.pgh_event_model.objects.filter(pgh_obj=rate).count() == 2
    entry = AuditEntry.objects.get(action="exchange_rate.saved")
    assert (entry.target_type, entry.target_id) == ("core.exchangerate", str(rate.pk))


@pytest.mark.django_db
def test_channel_managers_keep_their_rights_on_rates_and_the_audit_trail():
    from django.contrib.auth.models import Group

    from partners.roles import CHANNEL_MANAGERS

    permissions = set(
        Group.objects.get(name=CHANNEL_MANAGERS).permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    assert {
        ("core", "change_exchangerate"),
        ("core", "view_auditentry"),
        ("core", "view_dailyrate"),
    } <= permissions
    assert ("core", "change_auditentry") not in permissions and (
        "core",
        "change_dailyrate",
    ) not in permissions
