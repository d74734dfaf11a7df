"""Subscriptions in the admin: created through the service, the secret shown once, redelivery by action."""

import pytest
from django.urls import reverse

from tests.webhooks.conftest import emit_status_change
from webhooks import services
from webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


def test_a_manager_creates_a_subscription_and_sees_its_secret_once(
    client, allow_loopback, channel_manager, receiver
):
    client.force_login(channel_manager)
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {
            "url": receiver.url,
            "description": "CRM",
            "event_types": ["deal.won", "gate.passed"],
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    assert subscription.owner == channel_manager and subscription.event_types == ["deal.won", "gate.passed"]
    shown = [str(message) for message in response.context["messages"]]
    assert any(subscription.secret in message for message in shown)
    page = client.get(reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]))
    assert subscription.secret not in page.content.decode()


def test_a_private_url_is_refused_in_the_admin_form(client, channel_manager):
    client.force_login(channel_manager)
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {"url": "http://10.0.0.5/hook", "event_types": ["deal.won"], "is_active": "on"},
    )
    assert response.status_code == 200 and "a private address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_redelivery_from_the_delivery_log(
    client, subscribe, receiver, channel_manager, partner, django_capture_on_commit_callbacks
):
    subscribe(owner=channel_manager)
    emit_status_change(partner)
    services.events_fan_out()
    services.deliveries_sweep()
    delivery = WebhookDelivery.objects.get()
    client.force_login(channel_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2
    assert len({request.webhook_id for request in receiver.requests}) == 1 and len(receiver.requests) == 2
