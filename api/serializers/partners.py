"""Partners, their people and their facts, as integrators read them; partners as staff write them."""

import functools
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django_countries import countries
from rest_framework import serializers

from api.exceptions import django_errors
from api.scoping import request_principal
from api.serializers.base import CleanedModelSerializer
from core.door import principal_user
from core.models import ExchangeRate
from core.money import RATED_CURRENCY_CHOICES
from core.serializers import PositiveDecimalField, StrictModelSerializer, StrictSerializer
from partners.models import (
    ActivityType,
    Certification,
    CertificationType,
    Distributor,
    EngagementActivity,
    Partner,
    Person,
    ProductLine,
    Sale,
    ServiceOffering,
    ServiceProficiency,
    users_visible_to,
)


class CountryCodeField(serializers.ChoiceField):
    """A country as its ISO 3166 code, read and written."""

    def __init__(self, **kwargs):
        super().__init__(choices=list(countries), **kwargs)

    def to_representation(self, value):
        return getattr(value, "code", value) or ""


class VisibleDistributorField(serializers.PrimaryKeyRelatedField):
    """A distributor id among those the caller sees (the admin's choices); any other is "not found"."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return Distributor.objects.none()
        return Distributor.objects.visible_to(request_principal(request))


class VisibleStaffField(serializers.PrimaryKeyRelatedField):
    """A staff user among the logins the caller sees (the users' door, as in the admin), or the
    caller himself: a manager may take on a partner he creates outside his regions."""

    def get_queryset(self):
        request = self.context.get("request")
        staff = get_user_model()._default_manager.filter(is_staff=True)
        if request is None:
            return staff.none()
        user = principal_user(request_principal(request))
        return users_visible_to(user, staff) | staff.filter(pk=user.pk)


STATUS_BY_COMMAND = (
    "The status changes only through the lifecycle commands: "
    "onboard, activate, suspend, reinstate, terminate."
)


class PartnerSerializer(StrictModelSerializer):
    """Read by everybody who sees the partner; written by staff holding the partner permissions.

    Writes are validated as the admin's are (the model's ``full_clean()``); the
    status is read-only here and moves through the lifecycle commands.
    """

    country = CountryCodeField(help_text="ISO 3166 code.")
    website = serializers.URLField(
        required=False, allow_blank=True, max_length=200, help_text="A URL, or empty."
    )
    distributor = VisibleDistributorField(
        required=False,
        allow_null=True,
        help_text="The distributor the partner buys through (two-tier channel), among those you see.",
    )
    channel_manager = VisibleStaffField(
        required=False,
        allow_null=True,
        help_text="A staff user, among those you see.",
    )

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "partner_type",
            "business_model",
            "country",
            "region",
            "status",
            "distributor",
            "channel_manager",
            "joined_on",
            "website",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict) and "status" in self.initial_data:
            raise serializers.ValidationError({"status": [STATUS_BY_COMMAND]})
        # A fresh copy of the partner the view fetched through the door, to validate the change on.
        principal = request_principal(self.context["request"])
        partner = (
            Partner()
            if self.instance is None
            else Partner.objects.visible_to(principal).get(pk=self.instance.pk)
        )
        for name, value in attrs.items():
            setattr(partner, name, value)
        try:
            # The model's own rules, as the admin applies them.
            partner.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from exc
        attrs["_partner"] = partner
        return attrs


class PartnerMoveSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Kept in the history."
    )


class PartnerMoveReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why; kept in the history.")


class PersonSerializer(StrictModelSerializer):
    class Meta:
        model = Person
        fields = [
            "id",
            "partner",
            "first_name",
            "last_name",
            "email",
            "job_title",
            "is_active",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CertificationSerializer(StrictModelSerializer):
    partner = serializers.IntegerField(source="person.partner_id", read_only=True)
    person_email = serializers.EmailField(source="person.email", read_only=True)
    certification_type = serializers.CharField(source="certification_type.code", read_only=True)

    class Meta:
        model = Certification
        fields = [
            "id",
            "partner",
            "person",
            "person_email",
            "certification_type",
            "issued_on",
            "expires_on",
            "source",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SaleSerializer(StrictModelSerializer):
    product_line = serializers.CharField(source="product_line.code", read_only=True)
    country = serializers.CharField(
        source="country.code", read_only=True, allow_null=True, help_text="The customer's country (ISO 3166)."
    )
    customer_segment = serializers.CharField(
        source="customer_segment.code",
        read_only=True,
        allow_null=True,
        help_text="The customer's segment code, e.g. enterprise.",
    )

    class Meta:
        model = Sale
        fields = [
            "id",
            "partner",
            "amount",
            "currency",
            "product_line",
            "region",
            "closed_on",
            "deal",
            "customer_name",
            "country",
            "customer_segment",
            "source",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ActivitySerializer(StrictModelSerializer):
    activity_type = serializers.CharField(source="activity_type.code", read_only=True)

    class Meta:
        model = EngagementActivity
        fields = [
            "id",
            "partner",
            "activity_type",
            "points",
            "occurred_on",
            "description",
            "source",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProficiencySerializer(StrictModelSerializer):
    offering = serializers.CharField(source="offering.code", read_only=True)

    class Meta:
        model = ServiceProficiency
        fields = ["id", "partner", "offering", "level", "since", "source", "external_id", "updated_at"]
        read_only_fields = fields


class ReferenceSerializer(CleanedModelSerializer):
    """A code facts and criteria name (``cloud``, ``sales-engineer``). It is kept once created:
    criteria, integrations and recorded facts refer to it by its code."""

    def validate(self, attrs):
        # A change shows the code without writing it (see ``change_serializer``): one sent is
        # taken only if it is the code already kept.
        sent = self.initial_data.get("code") if isinstance(self.initial_data, dict) else None
        if self.instance is not None and sent is not None and sent != self.instance.code:
            raise serializers.ValidationError({"code": [CODE_KEPT]})
        return super().validate(attrs)


CODE_KEPT = "A code cannot change once created: criteria and integrations name it. Add a new one."


@functools.cache
def change_serializer(serializer_class: type[ReferenceSerializer]) -> type[ReferenceSerializer]:
    """The serializer of a PUT or PATCH of a code: the same fields, the code read-only.

    The schema of a change then names no code to write (a code is kept once created), and a
    client sending back the object it read, code included, is still understood.
    """
    meta = type("Meta", (serializer_class.Meta,), {"read_only_fields": ["id", "code"]})  # type: ignore[attr-defined]
    name = serializer_class.__name__.removesuffix("Serializer") + "ChangeSerializer"
    return type(name, (serializer_class,), {"Meta": meta, "__module__": serializer_class.__module__})


class CertificationTypeSerializer(ReferenceSerializer):
    """A kind of certification people hold (sales, technical), valid for some months or for ever."""

    class Meta:
        model = CertificationType
        fields = ["id", "code", "name", "track", "is_advanced", "validity_months"]
        read_only_fields = ["id"]


class ProductLineSerializer(ReferenceSerializer):
    """A product line sales, deals and benefits name."""

    class Meta:
        model = ProductLine
        fields = ["id", "code", "name"]
        read_only_fields = ["id"]


class ActivityTypeSerializer(ReferenceSerializer):
    """A kind of engagement activity (a training, a co-marketing campaign) and its points."""

    class Meta:
        model = ActivityType
        fields = ["id", "code", "name", "default_points"]
        read_only_fields = ["id"]


class ServiceOfferingSerializer(ReferenceSerializer):
    """A service partners may be proficient in."""

    class Meta:
        model = ServiceOffering
        fields = ["id", "code", "name"]
        read_only_fields = ["id"]


class RatedCurrencyField(serializers.ChoiceField):
    """A currency a rate is entered for: any but the reference currency (the schema lists them)."""

    default_error_messages = {"reference": "{code} is the reference currency: its rate is always 1."}

    def __init__(self, **kwargs):
        super().__init__(choices=RATED_CURRENCY_CHOICES, **kwargs)

    def to_internal_value(self, data):
        if data == settings.PRM_REFERENCE_CURRENCY:
            self.fail("reference", code=data)
        return super().to_internal_value(data)


class ExchangeRateSerializer(StrictModelSerializer):
    """The value of one unit of ``currency`` in the reference currency, from ``valid_from`` on,
    until the next rate of the same currency; sales are converted at the rate of their date."""

    currency = RatedCurrencyField()
    rate = PositiveDecimalField(
        max_digits=20,
        decimal_places=10,
        help_text='One unit of the currency in the reference currency, above zero, e.g. "1.0850".',
    )
    reference_currency = serializers.SerializerMethodField(
        help_text="The currency the rate is expressed in (the same for every rate)."
    )

    class Meta:
        model = ExchangeRate
        fields = ["id", "currency", "valid_from", "rate", "reference_currency"]
        read_only_fields = ["id", "reference_currency"]
        # The model's validation (in the service) checks a second rate on the same day.
        validators: list = []
        extra_kwargs = {
            "valid_from": {
                "help_text": "The first day the rate holds: from 1 January 2000 (no fact is older) "
                "to 366 days ahead."
            },
        }

    def get_reference_currency(self, rate) -> str:
        return settings.PRM_REFERENCE_CURRENCY
