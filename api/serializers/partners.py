"""Partners, their people and their facts, as integrators read them."""

from django.conf import settings
from rest_framework import serializers

from api.serializers.base import CleanedModelSerializer
from core.models import ExchangeRate
from core.money import CURRENCY_CHOICES
from core.serializers import StrictModelSerializer
from partners.models import (
    ActivityType,
    Certification,
    CertificationType,
    EngagementActivity,
    Partner,
    Person,
    ProductLine,
    Sale,
    ServiceOffering,
    ServiceProficiency,
)


class PartnerSerializer(StrictModelSerializer):
    country = serializers.CharField(source="country.code", read_only=True, help_text="ISO 3166 code.")
    website = serializers.CharField(read_only=True, help_text="A URL, or empty.")

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
        read_only_fields = fields


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

    def validate_code(self, value: str) -> str:
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError(
                "A code cannot change once created: criteria and integrations name it. Add a new one."
            )
        return value


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


class ExchangeRateSerializer(StrictModelSerializer):
    """The value of one unit of ``currency`` in the reference currency, from ``valid_from`` on,
    until the next rate of the same currency; sales are converted at the rate of their date."""

    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES)
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
            "rate": {"help_text": 'One unit of the currency in the reference currency, e.g. "1.0850".'}
        }

    def get_reference_currency(self, rate) -> str:
        return settings.PRM_REFERENCE_CURRENCY
