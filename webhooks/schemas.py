"""The OpenAPI ``webhooks`` section: one entry per event type, built from ``events.catalogue``.

Each entry documents the POST a subscriber receives: the envelope with the
type's ``data``, and the Standard Webhooks headers. ``SPECTACULAR_SETTINGS``
lists them by name (``webhooks.schemas.gate_passed``...).
"""

from collections.abc import Callable

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from events.catalogue import EVENT_TYPES, EventType, webhook_schema_name

_FIELDS: dict[str, Callable[..., serializers.Field]] = {
    "integer": serializers.IntegerField,
    "string": serializers.CharField,
    "decimal": lambda **kwargs: serializers.DecimalField(max_digits=20, decimal_places=6, **kwargs),
    "date": serializers.DateField,
    "date-time": serializers.DateTimeField,
    "boolean": serializers.BooleanField,
    "object": serializers.DictField,
    "array": serializers.ListField,
}

HEADERS = (
    " Headers (Standard Webhooks): webhook-id, the event's id (evt_…), the same on every retry and "
    "redelivery: deduplicate on it; webhook-timestamp, seconds since the epoch; webhook-signature, "
    "space-separated v1,<base64 HMAC-SHA256 of id.timestamp.body> signatures, two during a secret rotation."
)


def _field(json_type: str) -> serializers.Field:
    return _FIELDS[json_type.rstrip("?")](allow_null=json_type.endswith("?"))


def data_serializer(event: EventType) -> type[serializers.Serializer]:
    name = "".join(part.title() for part in event.name.replace("_", ".").split(".")) + "Data"
    return type(name, (serializers.Serializer,), {key: _field(kind) for key, kind in event.fields.items()})


def envelope_serializer(event: EventType) -> type[serializers.Serializer]:
    name = "".join(part.title() for part in event.name.replace("_", ".").split(".")) + "Event"
    return type(
        name,
        (serializers.Serializer,),
        {
            "id": serializers.CharField(help_text="The event's id, as in webhook-id."),
            "type": serializers.ChoiceField(choices=[event.name]),
            "version": serializers.ChoiceField(
                choices=[event.version], help_text="The payload schema's version."
            ),
            "timestamp": serializers.DateTimeField(help_text="When it happened."),
            "data": data_serializer(event)(),
            "__doc__": event.summary,
        },
    )


class ReceiverSchema(AutoSchema):
    """A receiver's endpoint: no API credentials, none of the API's own error answers."""


def _receiver(decorator):
    def decorate(view_class):
        view_class.authentication_classes = []
        view_class.permission_classes = []
        view_class.schema = ReceiverSchema()
        return decorator(view_class)

    return decorate


def webhook(event: EventType) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=event.name,
        decorator=_receiver(
            extend_schema(
                summary=event.summary,
                description=f"{event.summary} Schema version {event.version}."
                + ("" if event.emitted else " Not emitted yet.")
                + HEADERS,
                tags=["webhooks"],
                request=envelope_serializer(event),
                responses={
                    200: OpenApiResponse(description="Accepted (any 2xx). Anything else is retried."),
                },
            )
        ),
    )


for _event in EVENT_TYPES.values():
    globals()[webhook_schema_name(_event.name)] = webhook(_event)
