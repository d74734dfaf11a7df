"""Where webhooks may go, and what they may say: addresses and the owner's coverage."""

import socket

import pytest
from django.core.exceptions import ValidationError

from partners.models import ManagerProfile, Region
from tests.factories import PartnerFactory
from tests.webhooks.conftest import emit_status_change
from webhooks import services
from webhooks.addresses import UnsafeURL, check_url
from webhooks.models import DeliveryState, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://172.16.5.4/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://169.254.10.10/hook", "link-local"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("http://100.64.0.1/hook", "shared"),
        ("http://0.0.0.0/hook", "unspecified"),
    ],
)
def test_internal_addresses_are_refused_at_creation(superuser, url, reason):
    with pytest.raises(ValidationError) as refused:
        services.subscription_create(actor=superuser, owner=superuser, url=url, event_types=["deal.approved"])
    assert reason in refused.value.message_dict["url"][0]


@pytest.mark.parametrize("url", ["ftp://example.com/", "http://user:pw@example.com/", "http:///nohost"])
def test_other_schemes_credentials_and_hostless_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_metadata_addresses_stay_refused_when_private_ones_are_allowed(settings):
    settings.PRM_WEBHOOKS_ALLOW_PRIVATE_URLS = True
    check_url("http://127.0.0.1:9/hook")
    with pytest.raises(UnsafeURL, match="metadata"):
        check_url("http://169.254.169.254/")


def test_a_name_rebound_to_loopback_after_creation_is_refused_at_delivery(
    monkeypatch, receiver, superuser, partner
):
    """DNS rebinding: public when saved, 127.0.0.1 when sent. No request leaves."""
    answers = {"hooks.example.com": "93.184.216.34"}
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = receiver.server.server_address[1]
    subscription = services.subscription_create(
        actor=superuser,
        owner=superuser,
        url=f"http://hooks.example.com:{port}/hook",
        event_types=["partner.status_changed"],
    )
    answers["hooks.example.com"] = "127.0.0.1"
    emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()

    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.state == DeliveryState.PENDING  # retried later, checked again each time
    assert "loopback" in delivery.attempt_log.get().error


def test_a_url_allowed_once_is_refused_at_delivery_when_the_setting_goes(
    subscribe, receiver, partner, settings
):
    subscribe()
    settings.PRM_WEBHOOKS_ALLOW_PRIVATE_URLS = False
    emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()
    assert receiver.requests == []
    assert "loopback" in WebhookDelivery.objects.get().attempt_log.get().error


def test_a_manager_covering_emea_never_receives_latam_events(subscribe, receiver, channel_manager):
    emea = PartnerFactory(name="Acme", region=Region.EMEA)
    latam = PartnerFactory(name="Xolotl", country="BR", region=Region.LATIN_AMERICA)
    subscribe(owner=channel_manager)
    emit_status_change(emea)
    emit_status_change(latam)
    services.events_fan_out()
    services.deliveries_sweep()

    names = [payload["data"]["partner_name"] for payload in receiver.payloads()]
    assert names == ["Acme"]
    assert WebhookDelivery.objects.count() == 1  # none was even created for the other region


def test_an_owner_who_lost_coverage_since_the_event_gets_nothing(subscribe, receiver, channel_manager):
    emea = PartnerFactory(name="Acme", region=Region.EMEA)
    subscribe(owner=channel_manager)
    emit_status_change(emea)
    services.events_fan_out()
    ManagerProfile.objects.filter(user=channel_manager).update(regions=[Region.NORTH_AMERICA])
    services.deliveries_sweep()

    assert receiver.requests == []
    assert WebhookDelivery.objects.get().state == DeliveryState.WITHHELD


def test_narrowing_to_partners_and_programs(subscribe, receiver, superuser):
    wanted, other = PartnerFactory(name="Wanted"), PartnerFactory(name="Other")
    subscribe(partners=[wanted])
    emit_status_change(wanted)
    emit_status_change(other)
    services.events_fan_out()
    services.deliveries_sweep()
    assert [payload["data"]["partner_name"] for payload in receiver.payloads()] == ["Wanted"]


def test_subscriptions_name_only_what_their_author_sees(allow_loopback, channel_manager, receiver):
    latam = PartnerFactory(name="Xolotl", country="BR", region=Region.LATIN_AMERICA)
    with pytest.raises(ValidationError) as refused:
        services.subscription_create(
            actor=channel_manager,
            owner=channel_manager,
            url=receiver.url,
            event_types=["deal.approved", "deal.bogus"],
            partners=[latam],
        )
    errors = refused.value.message_dict
    assert "deal.bogus" in errors["event_types"][0] and errors["partners"] == ["Choose partners you see."]
