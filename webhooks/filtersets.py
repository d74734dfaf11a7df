"""Filters for the delivery log, shared by the API and the admin."""

import django_filters as filters

from core.filters import IdFilter
from webhooks.models import DeliveryState, WebhookDelivery


class DeliveryFilterSet(filters.FilterSet):
    subscription = IdFilter(field_name="subscription_id")
    state = filters.ChoiceFilter(choices=DeliveryState.choices)

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []
