"""Forms of recruitment and onboarding: the public application, the agreement, the company
profile, and a partner admin's team management."""

from django import forms
from django.db import models

from onboarding.models import PartnerApplication
from onboarding.selectors import public_programs
from partners.members import PARTNER_ROLE_CHOICES
from partners.models import MembershipRole

# The honeypot: a field people never see (hidden by the style sheet, out of the accessibility tree)
# and robots filling every input do. Its name is one a robot is glad to fill.
HONEYPOT = "homepage"


def _https_urls(model_field, **kwargs):
    """Form fields of the model's, with addresses typed without a scheme read as https."""
    if isinstance(model_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return model_field.formfield(**kwargs)


class ApplicationForm(forms.ModelForm):
    programs = forms.ModelMultipleChoiceField(
        queryset=public_programs(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Programs of interest",
    )
    homepage = forms.CharField(required=False, label="Leave this field empty")

    class Meta:
        model = PartnerApplication
        formfield_callback = _https_urls
        fields = [
            "company",
            "country",
            "partner_type",
            "business_model",
            "website",
            "contact_first_name",
            "contact_last_name",
            "contact_email",
            "contact_phone",
            "contact_job_title",
            "other_contacts",
            "programs",
            "message",
        ]
        labels = {
            "company": "Company name",
            "website": "Company website",
            "contact_first_name": "Your first name",
            "contact_last_name": "Your last name",
            "contact_email": "Your work email",
            "contact_phone": "Your phone",
            "contact_job_title": "Your job title",
            "other_contacts": "Other contacts",
            "message": "Anything else we should know",
        }
        help_texts = {
            "contact_email": "If we accept your application, we send the link to set your password here.",
            "other_contacts": "Names, roles and emails of colleagues we may talk to.",
        }
        widgets = {
            "other_contacts": forms.Textarea(attrs={"rows": 3}),
            "message": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The queryset is read per form, so a program opened since start-up is offered.
        programs = self.fields["programs"]
        assert isinstance(programs, forms.ModelMultipleChoiceField)
        programs.queryset = public_programs()
        self.fields["homepage"].widget.attrs.update({"autocomplete": "off", "tabindex": "-1"})

    @property
    def is_robot(self) -> bool:
        return bool(self.cleaned_data.get(HONEYPOT))

    def application_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop(HONEYPOT, None)
        data.pop("programs", None)
        return data


class AgreementForm(forms.Form):
    signer_name = forms.CharField(max_length=200, label="Your full name")
    signer_title = forms.CharField(max_length=120, required=False, label="Your job title")
    accept = forms.BooleanField(label="I accept this agreement on behalf of my company")


class CompanyProfileForm(forms.Form):
    website = forms.URLField(label="Company website", assume_scheme="https")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), label="What your company does", max_length=4000
    )
    phone = forms.CharField(max_length=40, label="Phone")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Address", max_length=1000)


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    first_name = forms.CharField(max_length=100, label="First name")
    last_name = forms.CharField(max_length=100, label="Last name")
    role = forms.ChoiceField(choices=PARTNER_ROLE_CHOICES, label="Role", initial=MembershipRole.SALES)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=PARTNER_ROLE_CHOICES, label="Role")
