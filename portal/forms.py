"""Portal forms: labelled, with help and errors tied to their inputs for screen readers.

Forms check the shape of the input; the services check the rules (benefits,
conflicts, balances) and their errors are put back next to the field they
concern.
"""

import datetime
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_countries.fields import CountryField

from core.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, CURRENCY_CHOICES
from deals.models import MdfActivityKind, SalesRole, normalise_domain
from deals.uploads import PROOF_ACCEPT
from inbox.models import Delivery
from partners.models import CustomerSegment, ProductLine


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _amount_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        **kwargs,
    )


class PortalForm(forms.Form):
    """Ties each input to its help text and errors (``aria-describedby``, ``aria-invalid``)."""

    required_css_class = "required"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"{self._field_id(name)}_help"

    def _field_id(self, name: str) -> str:
        # Without building the bound field: it would cache the help text,
        # which subclasses may still change after this constructor.
        auto_id = self.auto_id
        if isinstance(auto_id, str) and "%s" in auto_id:
            return auto_id % self.add_prefix(name)
        return self.add_prefix(name)

    def full_clean(self) -> None:
        super().full_clean()
        self._mark_invalid()

    def add_service_errors(self, error: ValidationError) -> None:
        """Attach a service's errors to the fields they name, the rest to the form."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                target = field if field in self.fields else None
                for message in messages:
                    self.add_error(target, message)
        else:
            for message in error.messages:
                self.add_error(None, message)
        self._mark_invalid()

    def _mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["aria-invalid"] = "true"
                ids = widget.attrs.get("aria-describedby", "").split()
                error_id = f"{self._field_id(name)}_errors"
                if error_id not in ids:
                    widget.attrs["aria-describedby"] = " ".join([*ids, error_id])


class DealRegistrationForm(PortalForm):
    customer_name = forms.CharField(max_length=200, label="Customer name")
    customer_domain = forms.CharField(
        max_length=253,
        label="Customer web domain",
        help_text="For example example.com. Registrations are matched on it.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    country = CountryField().formfield(label="Customer country")
    customer_segment = forms.ModelChoiceField(
        queryset=CustomerSegment.objects.order_by("name"),
        required=False,
        label="Customer segment (optional)",
        help_text="Enterprise, mid-market... Some deal-registration rights cover one segment only.",
    )
    products = forms.ModelMultipleChoiceField(
        queryset=ProductLine.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        label="Products",
        error_messages={"required": "Choose at least one product line."},
    )
    expected_value = _amount_field(label="Expected value")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="USD", label="Currency")
    expected_close = forms.DateField(widget=DateInput(), label="Expected close date")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, label="Notes (optional)"
    )
    sourced_by = forms.ChoiceField(
        choices=[(SalesRole.PARTNER, "We found it"), (SalesRole.VENDOR, "The vendor referred it to us")],
        initial=SalesRole.PARTNER,
        widget=forms.RadioSelect,
        label="Who found this opportunity?",
    )

    def clean_customer_domain(self) -> str:
        # The service normalises again; checking here reports every error at once.
        return normalise_domain(self.cleaned_data["customer_domain"])

    def clean_expected_close(self) -> datetime.date:
        value = self.cleaned_data["expected_close"]
        if value < timezone.localdate():
            raise ValidationError("The expected close date is in the past.")
        if value > timezone.localdate() + datetime.timedelta(days=3 * 366):
            raise ValidationError("Register deals expected to close within three years.")
        return value


class ReasonForm(PortalForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Reason",
        help_text="The partner sees this reason.",
        error_messages={"required": "Give the partner the reason for the rejection."},
    )


class EarlyClaimForm(PortalForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Reason for the exception",
        help_text="Kept with the request; the partner sees it.",
        error_messages={"required": "Give the reason for the exception; it is kept with the request."},
    )


class DealWonForm(PortalForm):
    amount = _amount_field(label="Final amount", help_text="In the deal's currency.")
    closed_on = forms.DateField(widget=DateInput(), label="Closed on")
    product_line = forms.ModelChoiceField(queryset=ProductLine.objects.none(), label="Main product line")
    closed_by = forms.ChoiceField(
        choices=[
            (SalesRole.PARTNER, "We ran the sale"),
            (SalesRole.VENDOR, "The vendor's account team closed it"),
        ],
        initial=SalesRole.PARTNER,
        widget=forms.RadioSelect,
        label="Who closed the sale?",
    )

    def __init__(self, *args, deal, **kwargs):
        super().__init__(*args, **kwargs)
        product_line = self.fields["product_line"]
        assert isinstance(product_line, forms.ModelChoiceField)
        product_line.queryset = deal.products.all()
        self.fields["amount"].help_text = f"In {deal.currency}, the deal's currency."

    def clean_closed_on(self) -> datetime.date:
        value = self.cleaned_data["closed_on"]
        if value > timezone.localdate():
            raise ValidationError("A deal cannot be closed in the future.")
        return value


class DealLostForm(PortalForm):
    reason = forms.CharField(required=False, max_length=2000, label="What happened? (optional)")


class MdfRequestForm(PortalForm):
    title = forms.CharField(max_length=200, label="Activity")
    activity_kind = forms.ChoiceField(choices=MdfActivityKind.choices, label="Kind of activity")
    starts_on = forms.DateField(widget=DateInput(), label="Starts on")
    ends_on = forms.DateField(widget=DateInput(), label="Ends on")
    amount = _amount_field(label="Amount requested")
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        label="Plan and expected results (optional)",
    )

    def clean(self):
        cleaned = super().clean() or {}
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", "The activity ends before it starts.")
        return cleaned


class MdfClaimForm(PortalForm):
    amount = _amount_field(label="Amount claimed")
    proof = forms.FileField(
        label="Proof of performance",
        help_text="A PDF, PNG or JPEG: invoices, photos, campaign results.",
        widget=forms.ClearableFileInput(attrs={"accept": PROOF_ACCEPT}),
        error_messages={"required": "Attach the proof of performance (PDF, PNG or JPEG)."},
    )


class MdfApproveForm(PortalForm):
    amount = _amount_field(
        label="Amount approved", required=False, help_text="Leave empty to approve the amount requested."
    )


class MdfPaidForm(PortalForm):
    reference = forms.CharField(required=False, max_length=100, label="Payment reference (optional)")


class QuizForm(PortalForm):
    """One field per question of a quiz, its choices from the database; the service scores it.

    A question with several right answers is answered with checkboxes, the others with one choice.
    """

    def __init__(self, *args, questions, **kwargs):
        super().__init__(*args, **kwargs)
        for number, question in enumerate(questions, start=1):
            choices = list(question.choices.all())
            several = sum(choice.is_correct for choice in choices) > 1
            options = [(choice.pk, choice.text) for choice in choices]
            label = f"{number}. {question.text}"
            if several:
                self.fields[f"question_{question.pk}"] = forms.TypedMultipleChoiceField(
                    choices=options,
                    coerce=int,
                    widget=forms.CheckboxSelectMultiple,
                    label=label,
                    help_text="Choose every answer that applies.",
                    error_messages={"required": "Choose at least one answer."},
                )
            else:
                self.fields[f"question_{question.pk}"] = forms.TypedChoiceField(
                    choices=options,
                    coerce=int,
                    widget=forms.RadioSelect,
                    label=label,
                    error_messages={"required": "Choose an answer."},
                )
            self.fields[f"question_{question.pk}"].question_id = question.pk  # type: ignore[attr-defined]

    def answers(self) -> dict[int, list[int]]:
        """The choices picked, by question id (after ``is_valid``)."""
        picked: dict[int, list[int]] = {}
        for name, field in self.fields.items():
            value = self.cleaned_data[name]
            question_id: int = field.question_id  # type: ignore[attr-defined]
            picked[question_id] = list(value) if isinstance(value, list) else [value]
        return picked


class InboxPreferencesForm(PortalForm):
    """For each kind of inbox item the user receives: in the portal only, an email at once, or the digest.

    ``kinds`` are the (kind, label) pairs ``inbox.kinds.kinds_received`` gives
    for the user: nobody is asked about items that never reach them.
    """

    def __init__(self, *args, kinds: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.kinds = [kind for kind, _label in kinds]
        for kind, label in kinds:
            self.fields[kind] = forms.ChoiceField(
                label=label, choices=Delivery.choices, widget=forms.RadioSelect, initial=Delivery.IN_APP
            )

    def deliveries(self) -> dict[str, str]:
        return {kind: self.cleaned_data[kind] for kind in self.kinds}


class AttemptGrantForm(PortalForm):
    """A partner admin's grant of one more quiz attempt to a colleague, with an optional reason."""

    reason = forms.CharField(required=False, max_length=300, label="Reason (optional)")
