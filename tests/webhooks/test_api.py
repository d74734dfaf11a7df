"""/api/v1/webhook-subscriptions/ and /api/v1/webhook-deliveries/: staff only, each their own."""

import pytest
from rest_framework.test import APIClient

from api.models import TokenScope
from api.services import token_issue
from tests.webhooks.conftest import emit_status_change
from webhooks import services
from webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db
SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"
DELIVERIES = "/api/v1/webhook-deliveries/"


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_channel_manager_subscribes_and_sees_the_secret_once(
    allow_loopback, channel_manager, receiver, partner
):
    client = client_of(channel_manager)
    response = client.post(
        SUBSCRIPTIONS,
        {"url": receiver.url, "event_types": ["deal.approved", "gate.passed"], "partners": [partner.pk]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["owner"] == channel_manager.pk
    assert body["event_types"] == ["deal.approved", "gate.passed"] and body["partners"] == [partner.pk]
    assert "secret" not in client.get(f"{SUBSCRIPTIONS}{body['id']}/").json()
    assert "secret" not in client.get(SUBSCRIPTIONS).json()["results"][0]

    rotated = client.post(f"{SUBSCRIPTIONS}{body['id']}/rotate-secret/", {"overlap_hours": 1}, format="json")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in ("", body["secret"])
    subscription = WebhookSubscription.objects.get()
    assert subscription.signing_secrets() == [rotated.json()["secret"], body["secret"]]

    changed = client.patch(f"{SUBSCRIPTIONS}{body['id']}/", {"is_active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["is_active"] is False
    assert client.delete(f"{SUBSCRIPTIONS}{body['id']}/").status_code == 405  # stopped, not deleted
    assert WebhookSubscription.objects.filter(is_active=False).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "http://10.0.0.8/hook", "event_types": ["deal.approved"]}, "url"),
        ({"url": "https://hooks.example.com/", "event_types": ["deal.nope"]}, "event_types"),
        ({"url": "https://hooks.example.com/", "event_types": []}, "event_types"),
        ({"url": "not a url", "event_types": ["deal.approved"]}, "url"),
    ],
)
def test_bad_subscriptions_are_refused_field_by_field(channel_manager, payload, field):
    response = client_of(channel_manager).post(SUBSCRIPTIONS, payload, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


def test_partner_users_and_narrow_or_read_only_tokens_may_not_subscribe(
    partner_admin, channel_manager, partner, receiver
):
    payload = {"url": receiver.url, "event_types": ["deal.approved"]}
    assert client_of(partner_admin).post(SUBSCRIPTIONS, payload, format="json").status_code == 403
    _, read_only = token_issue(actor=channel_manager, name="read", scope=TokenScope.READ, all_partners=True)
    assert bearer(read_only).post(SUBSCRIPTIONS, payload, format="json").status_code == 403
    _, narrow = token_issue(
        actor=channel_manager,
        name="narrow",
        scope=TokenScope.READ_WRITE,
        all_partners=False,
        partners=[partner],
    )
    assert bearer(narrow).post(SUBSCRIPTIONS, payload, format="json").status_code == 403
    assert client_of(partner_admin).get(SUBSCRIPTIONS).json()["results"] == []


def test_an_integrator_token_subscribes_for_its_issuer(allow_loopback, channel_manager, receiver):
    _, secret = token_issue(actor=channel_manager, name="crm", scope=TokenScope.READ_WRITE, all_partners=True)
    response = bearer(secret).post(
        SUBSCRIPTIONS, {"url": receiver.url, "event_types": ["deal.won"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert WebhookSubscription.objects.get().owner == channel_manager


def test_each_manager_sees_only_his_subscriptions_and_their_deliveries(
    subscribe, receiver, channel_manager, superuser, partner
):
    own = subscribe(owner=channel_manager)
    others = subscribe(owner=superuser)
    emit_status_change(partner)
    services.events_fan_out()
    client = client_of(channel_manager)
    assert [row["id"] for row in client.get(SUBSCRIPTIONS).json()["results"]] == [own.pk]
    assert client.get(f"{SUBSCRIPTIONS}{others.pk}/").status_code == 404
    assert (
        client.patch(f"{SUBSCRIPTIONS}{others.pk}/", {"is_active": False}, format="json").status_code == 404
    )
    rows = client.get(DELIVERIES).json()["results"]
    assert [row["subscription"] for row in rows] == [own.pk]
    foreign = WebhookDelivery.objects.get(subscription=others)
    assert client.get(f"{DELIVERIES}{foreign.pk}/").status_code == 404
    # Bulk redelivery leaves out what the caller cannot see.
    response = client.post(f"{DELIVERIES}redeliver/", {"ids": [foreign.pk]}, format="json")
    assert response.status_code == 202 and response.json() == {"redelivered": 0}


def test_the_delivery_log_and_redelivery(
    subscribe,
    receiver,
    channel_manager,
    partner,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    subscribe(owner=channel_manager)
    receiver.script = [500]
    for _ in range(5):
        emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()
    client = client_of(channel_manager)
    # The session, the user, the deliveries with their events, their attempts.
    with django_assert_num_queries(4):
        rows = client.get(DELIVERIES, {"state": "pending"}).json()["results"]
    assert len(rows) == 1
    assert rows[0]["attempt_log"][0]["status_code"] == 500 and rows[0]["webhook_id"].startswith("evt_")
    assert len(client.get(DELIVERIES).json()["results"]) == 5

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{DELIVERIES}{rows[0]['id']}/redeliver/")
    assert response.status_code == 202 and response.json() == {"redelivered": 1}
    assert WebhookDelivery.objects.get(pk=rows[0]["id"]).state == DeliveryState.DELIVERED
    ids = list(WebhookDelivery.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{DELIVERIES}redeliver/", {"ids": ids}, format="json")
    assert response.json() == {"redelivered": 5}
    assert len(receiver.requests) == 5 + 1 + 5
    assert client.post(f"{DELIVERIES}redeliver/", {"ids": []}, format="json").status_code == 400


def test_the_delivery_list_costs_the_same_for_many_rows(
    subscribe, receiver, channel_manager, partner, django_assert_num_queries
):
    subscribe(owner=channel_manager)
    for _ in range(30):
        emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()
    client = client_of(channel_manager)
    # The session, the user, the deliveries with their events, their attempts.
    with django_assert_num_queries(4):
        rows = client.get(DELIVERIES).json()["results"]
    assert len(rows) == 30
