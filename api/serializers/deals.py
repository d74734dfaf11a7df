"""Deal registrations and MDF requests: reads, and the inputs of each command."""

from django_countries import countries
from rest_framework import serializers

from core.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, CURRENCY_CHOICES
from core.serializers import PositiveDecimalField, StrictModelSerializer, StrictSerializer
from deals.models import Deal, MdfActivityKind, MdfRequest
from partners.models import CustomerSegment, ProductLine


def _amount(**kwargs) -> serializers.DecimalField:
    return PositiveDecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


class DealSerializer(StrictModelSerializer):
    reference = serializers.CharField(read_only=True)
    country = serializers.CharField(source="country.code", read_only=True)
    customer_segment = serializers.CharField(
        source="customer_segment.code",
        read_only=True,
        allow_null=True,
        help_text="The customer's segment code, e.g. enterprise.",
    )
    products = serializers.ManyRelatedField(
        child_relation=serializers.SlugRelatedField(slug_field="code", read_only=True), read_only=True
    )
    status_display = serializers.SerializerMethodField(
        help_text="The state's name, the same for every role: a submission on a customer another "
        "partner also claims reads “Under review” (the vendor decides it)."
    )
    needs_review = serializers.SerializerMethodField(help_text="Vendor staff only; null for partners.")
    conflicts_with = serializers.SerializerMethodField(help_text="Vendor staff only; null for partners.")

    class Meta:
        model = Deal
        fields = [
            "id",
            "reference",
            "partner",
            "customer_name",
            "customer_domain",
            "country",
            "customer_segment",
            "products",
            "description",
            "expected_value",
            "currency",
            "expected_close",
            "status",
            "status_display",
            "registered_on",
            "needs_review",
            "conflicts_with",
            "sourced_by",
            "closed_by",
            "decided_at",
            "rejection_reason",
            "protected_until",
            "closed_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _staff(self) -> bool:
        request = self.context.get("request")
        return bool(request and request.user.is_staff)

    def get_status_display(self, deal) -> str:
        return deal.status_label

    def get_needs_review(self, deal) -> bool | None:
        return deal.needs_review if self._staff() else None

    def get_conflicts_with(self, deal) -> int | None:
        # Partners are never told who else claims their customer.
        return deal.conflicts_with_id if self._staff() else None


class DealRegistrationSerializer(StrictSerializer):
    partner = serializers.IntegerField(
        required=False, min_value=1, help_text="Defaults to the caller's own organisation."
    )
    customer_name = serializers.CharField(max_length=200)
    customer_domain = serializers.CharField(max_length=253, help_text="e.g. example.com")
    country = serializers.ChoiceField(choices=list(countries))
    customer_segment = serializers.SlugRelatedField(
        slug_field="code",
        queryset=CustomerSegment.objects.all(),
        required=False,
        allow_null=True,
        help_text="The customer's segment code, e.g. enterprise.",
    )
    products = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=ProductLine.objects.all(), help_text="Product line codes."
    )
    expected_value = _amount()
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES)
    expected_close = serializers.DateField()
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Shown to the partner.")


class OptionalReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DealWonSerializer(StrictSerializer):
    amount = _amount(required=False, help_text="Defaults to the expected value.")
    closed_on = serializers.DateField(required=False, help_text="Defaults to today.")
    product_line = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ProductLine.objects.all(),
        required=False,
        help_text="One of the deal's product lines; defaults to the first.",
    )


class MdfRequestSerializer(StrictModelSerializer):
    reference = serializers.CharField(read_only=True)
    has_proof = serializers.SerializerMethodField()
    claimable_from = serializers.DateField(
        read_only=True, help_text="The day after the activity ends, from which approved funds may be claimed."
    )

    class Meta:
        model = MdfRequest
        fields = [
            "id",
            "reference",
            "partner",
            "period",
            "title",
            "activity_kind",
            "description",
            "starts_on",
            "ends_on",
            "amount",
            "currency",
            "status",
            "approved_amount",
            "decided_at",
            "rejection_reason",
            "claimable_from",
            "early_claim_allowed_at",
            "early_claim_reason",
            "claimed_amount",
            "claimed_at",
            "has_proof",
            "paid_at",
            "payment_reference",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_proof(self, request) -> bool:
        return bool(request.proof_name)


class MdfRequestCreateSerializer(StrictSerializer):
    partner = serializers.IntegerField(
        required=False, min_value=1, help_text="Defaults to the caller's own organisation."
    )
    title = serializers.CharField(max_length=200)
    activity_kind = serializers.ChoiceField(choices=MdfActivityKind.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    amount = _amount(help_text="In the currency of the partner's allowance.")


class MdfApproveSerializer(StrictSerializer):
    amount = _amount(required=False, help_text="Approve less than requested; defaults to all of it.")


class MdfClaimSerializer(StrictSerializer):
    amount = _amount()
    proof = serializers.FileField(help_text="Proof of performance: PDF, PNG or JPEG.")


class MdfPaidSerializer(StrictSerializer):
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
