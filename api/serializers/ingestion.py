"""The shape of bulk ingestion requests and reports, for the OpenAPI description.

The records themselves are checked by ``partners.ingestion`` row by row (a
bad record is reported and skipped, the others stored), so these serializers
document the shape; they do not reject the batch.
"""

from django_countries import countries
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import StrictSerializer
from partners.ingestion import SOURCE_PATTERN
from partners.models import ProficiencyLevel


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "pattern": r"^\d{1,12}(\.\d{1,4})?$"}, {"type": "number"}],
        "description": 'A decimal amount; send it as a string ("1234.50") to keep it exact.',
    }
)
class AmountField(serializers.Field):
    pass


class _RecordBase(StrictSerializer):
    external_id = serializers.CharField(
        max_length=100, help_text="The record's id in the sending system, unique within the source."
    )
    partner = serializers.IntegerField(min_value=1, help_text="The partner's id in the PRM.")


class SaleRecordSerializer(_RecordBase):
    amount = AmountField()
    currency = serializers.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    product_line = serializers.CharField(max_length=50, help_text="A product line code.")
    region = serializers.CharField(
        max_length=8, required=False, help_text="Defaults to the partner's region."
    )
    closed_on = serializers.DateField()
    customer_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    country = serializers.ChoiceField(
        choices=list(countries), required=False, help_text="The customer's country (ISO 3166), e.g. GB."
    )
    customer_segment = serializers.CharField(
        max_length=50, required=False, help_text="A customer segment code, e.g. enterprise."
    )

    class Meta:
        ref_name = "SaleRecord"


class CertificationRecordSerializer(_RecordBase):
    person_email = serializers.EmailField(help_text="The holder, by e-mail within the partner.")
    person_first_name = serializers.CharField(
        max_length=100, required=False, help_text="Needed only to add a holder not yet known."
    )
    person_last_name = serializers.CharField(max_length=100, required=False)
    certification_type = serializers.CharField(max_length=50, help_text="A certification type code.")
    issued_on = serializers.DateField()
    expires_on = serializers.DateField(
        required=False, allow_null=True, help_text="Defaults to the type's validity after the issue date."
    )

    class Meta:
        ref_name = "CertificationRecord"


class ActivityRecordSerializer(_RecordBase):
    activity_type = serializers.CharField(max_length=50, help_text="An activity type code.")
    points = serializers.IntegerField(
        min_value=0, required=False, help_text="Defaults to the activity type's points."
    )
    occurred_on = serializers.DateField()
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)

    class Meta:
        ref_name = "ActivityRecord"


class ProficiencyRecordSerializer(_RecordBase):
    offering = serializers.CharField(max_length=50, help_text="A service offering code.")
    level = serializers.ChoiceField(
        choices=ProficiencyLevel.choices, help_text="1 foundational, 2 proficient, 3 expert."
    )
    since = serializers.DateField(help_text="The day the partner reached the level.")

    class Meta:
        ref_name = "ProficiencyRecord"


class PersonRecordSerializer(_RecordBase):
    external_id = serializers.CharField(
        max_length=100, help_text="The person's id in the sending system, unique within the partner."
    )
    email = serializers.EmailField(
        max_length=254,
        help_text="Unique within the partner; a new external id takes over a person "
        "with this e-mail who has no external id yet.",
    )
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    job_title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False, help_text="Defaults to true; an inactive person's certifications do not count."
    )

    class Meta:
        ref_name = "PersonRecord"


def _batch(record_serializer, name: str) -> type[serializers.Serializer]:
    class Batch(StrictSerializer):
        source = serializers.RegexField(  # type: ignore[assignment]  # a field, not Field.source
            SOURCE_PATTERN.pattern,
            required=False,
            help_text="The sending system (e.g. salesforce). Optional with a token issued for one source.",
        )
        records = record_serializer(many=True, help_text="Up to 5,000 records.")

    Batch.__name__ = name
    Batch.Meta = type("Meta", (), {"ref_name": name})  # type: ignore[attr-defined]
    return Batch


SaleBatchSerializer = _batch(SaleRecordSerializer, "SaleBatch")
CertificationBatchSerializer = _batch(CertificationRecordSerializer, "CertificationBatch")
ActivityBatchSerializer = _batch(ActivityRecordSerializer, "ActivityBatch")
ProficiencyBatchSerializer = _batch(ProficiencyRecordSerializer, "ProficiencyBatch")
PersonBatchSerializer = _batch(PersonRecordSerializer, "PersonBatch")


class RowResultSerializer(StrictSerializer):
    index = serializers.IntegerField(help_text="The record's position in the batch, from 0.")
    external_id = serializers.CharField(allow_null=True)
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged", "rejected"])
    id = serializers.IntegerField(required=False, help_text="The stored record's id (not on rejected rows).")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Why the record was rejected, per field.",
    )

    class Meta:
        ref_name = "IngestionRowResult"


class IngestionReportSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=["sales", "certifications", "activities", "proficiencies", "people"]
    )
    source = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.source
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = RowResultSerializer(many=True)

    class Meta:
        ref_name = "IngestionReport"
