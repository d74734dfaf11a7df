"""Serializers that take JSON values as the schema types them, without coercion.

DRF converts on input: ``"reason": 0`` becomes the text "0", ``"amount": 12.5``
a decimal through a float, ``"prerequisites": {}`` an empty list. The OpenAPI
document promises a string, a decimal written as a string, an array; a client
that sends something else has a bug it should hear of, so these serializers
refuse the value with a clear message instead. Form posts (a file upload)
carry only text and are left to the fields' own parsing.
"""

from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.relations import ManyRelatedField

_MESSAGES = {
    "text": "Send text (a JSON string).",
    "decimal": 'Send the amount as a string, e.g. "1234.50".',
    "integer": "Send a whole number (a JSON number).",
    "list": "Send a list (a JSON array).",
    "empty": 'An amount cannot be empty: send digits, e.g. "1234.50".',
}


def _kind(field) -> str | None:
    """What JSON type the field's schema promises, where DRF would coerce another."""
    if isinstance(field, serializers.ChoiceField) or getattr(field, "read_only", False):
        return None
    if isinstance(field, serializers.DecimalField):
        return "decimal"
    if isinstance(field, serializers.CharField):
        return "text"
    if isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return "integer"
    if isinstance(field, ManyRelatedField | serializers.ListField | serializers.ListSerializer):
        return "list"
    return None


def _fits(kind: str, value) -> bool:
    if value is None:
        return True  # null is the field's own business (allow_null)
    if kind == "decimal":
        # "" is no amount: DRF would read it as null where null is allowed.
        return isinstance(value, str) and value.strip() != ""
    if kind == "text":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, list)


def _is_json(serializer) -> bool:
    request = serializer.context.get("request")
    if request is None:
        return True
    return (request.content_type or "").split(";")[0].strip() == "application/json"


class StrictTypesMixin:
    def to_internal_value(self, data):
        problems = {}
        if isinstance(data, dict) and _is_json(self):
            for name, field in self.fields.items():  # type: ignore[attr-defined]
                kind = _kind(field)
                value = data.get(name, empty)
                if kind is not None and value is not empty and not _fits(kind, value):
                    problems[name] = [_MESSAGES["empty" if value == "" else kind]]
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if not problems or not isinstance(exc.detail, dict):
                raise
            # Every field's problem at once: the type first where a field has both.
            raise serializers.ValidationError({**exc.detail, **problems}) from exc
        if problems:
            raise serializers.ValidationError(problems)
        return value


class StrictSerializer(StrictTypesMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictTypesMixin, serializers.ModelSerializer):
    pass


class PositiveDecimalField(serializers.DecimalField):
    """A decimal above zero (an amount of money): the schema's pattern admits no zero and no sign."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_messages", {}).setdefault(
            "positive", "The amount must be greater than zero."
        )
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is not None and value <= 0:
            self.fail("positive")
        return value
