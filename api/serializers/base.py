"""A model serializer whose writes the model validates itself.

The values sent are set on the object and its ``full_clean()`` runs (the
model's ``clean()``, its fields and its constraints), so that the API refuses
exactly what the admin refuses, with the same messages, field by field.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from api.exceptions import django_errors
from core.serializers import StrictModelSerializer


def _differs(definition, name: str, value: Any) -> bool:
    """Whether ``value`` changes the field; a foreign key compared by id, without loading it."""
    field = definition._meta.get_field(name)
    if field.many_to_one or field.one_to_one:
        return getattr(definition, field.attname) != (value.pk if value is not None else None)
    return getattr(definition, name) != value


class CleanedModelSerializer(StrictModelSerializer):
    """Validates a write with the model's ``full_clean()``, as the admin's forms do; the view saves
    it through a service, with ``validated_data["_definition"]`` (the object, changed but
    unsaved), ``["_links"]`` (its many-to-many values) and ``["_changed"]`` (the fields sent that
    change it, for the audit entry)."""

    # Many-to-many fields, set after the definition is saved.
    links: tuple[str, ...] = ()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        links = {name: attrs.pop(name) for name in self.links if name in attrs}
        model: type[models.Model] = self.Meta.model  # type: ignore[attr-defined]
        definition = self.instance if self.instance is not None else model()
        changed = [
            name
            for name, value in attrs.items()
            if self.instance is None or _differs(definition, name, value)
        ]
        for name, value in attrs.items():
            setattr(definition, name, value)
        try:
            definition.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from exc
        self.validate_links(definition, links)
        attrs["_definition"] = definition
        attrs["_links"] = links
        attrs["_changed"] = changed + sorted(links)
        return attrs

    def validate_links(self, definition, links: dict[str, Any]) -> None:
        """Rules across the definition and its many-to-many values; none by default."""
