"""Issuing and revoking integration tokens.

Staff holding ``api.add_integrationtoken`` (channel managers hold it through
their role) may issue tokens that act for them; the secret is shown once, on the
page that follows the issue, and never stored. Managers see and revoke their own
tokens; superusers, and staff granted the token permissions, see everyone's.
The rules are those of the API's: both doors call ``api.services``.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from api.models import TOKEN_PREFIX, IntegrationToken, manages_every_token
from api.resources import SCOPES
from api.services import may_issue_tokens, token_check, token_issue, token_revoke
from partners.admin_coverage import CoverageAdminMixin


class IntegrationTokenForm(forms.ModelForm):
    resource_scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=IntegrationToken._meta.get_field("resource_scopes").help_text,
    )
    # The person the token acts for: the one issuing it, or the issuer of the token changed.
    issuer = None

    class Meta:
        model = IntegrationToken
        fields = ["name", "scope", "resource_scopes", "all_partners", "partners", "source", "expires_at"]

    def clean(self):
        cleaned = super().clean() or {}
        issuer = self.instance.issued_by if self.instance.pk else self.issuer
        if issuer is None or any(name in self.errors for name in ("scope", "resource_scopes", "partners")):
            return cleaned
        try:
            token_check(
                issuer=issuer,
                scope=cleaned.get("scope", ""),
                resource_scopes=cleaned.get("resource_scopes") or [],
                all_partners=bool(cleaned.get("all_partners")),
                partners=cleaned.get("partners") or [],
                expires_at=cleaned.get("expires_at"),
            )
        except ValidationError as exc:
            for field, messages_of_field in exc.message_dict.items():
                for message in messages_of_field:
                    self.add_error(field, message)
        return cleaned


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(CoverageAdminMixin, admin.ModelAdmin):
    form = IntegrationTokenForm
    list_display = [
        "name",
        "masked",
        "issued_by",
        "scope",
        "coverage",
        "source",
        "created_at",
        "last_used_at",
        "expires_at",
        "state",
    ]
    list_filter = ["scope", "all_partners"]
    search_fields = ["name", "identifier", "source"]
    list_select_related = ["issued_by"]
    autocomplete_fields = ["partners"]
    readonly_fields = ["masked", "issued_by", "created_at", "last_used_at", "revoked_at", "revoked_by"]
    actions = ["revoke_selected"]

    @admin.display(description="Token")
    def masked(self, token: IntegrationToken) -> str:
        return f"{TOKEN_PREFIX}_{token.identifier}_…" if token.identifier else "—"

    @admin.display(description="Partners")
    def coverage(self, token: IntegrationToken) -> str:
        return "all the issuer sees" if token.all_partners else "named partners"

    @admin.display(description="State")
    def state(self, token: IntegrationToken) -> str:
        if token.revoked_at:
            return format_html("<strong>revoked</strong> {}", f"{token.revoked_at:%d %b %Y}")
        if token.expires_at and token.expires_at <= timezone.now():
            return "expired"
        return "active"

    # --- who sees what --------------------------------------------------------------------------

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (
            obj is None or obj.issued_by_id == request.user.pk or manages_every_token(request.user)
        )

    def has_add_permission(self, request):
        return self.has_module_permission(request) and may_issue_tokens(request.user)

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj) and (obj is None or obj.revoked_at is None)

    def has_delete_permission(self, request, obj=None):
        # Tokens are revoked, not deleted: the audit trail keeps pointing at them.
        return request.user.is_superuser

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scope", "resource_scopes", "all_partners", "partners", "source", "expires_at"]
        return [
            "name",
            "masked",
            "issued_by",
            "scope",
            "resource_scopes",
            "all_partners",
            "partners",
            "source",
            "expires_at",
            "created_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.issuer = request.user  # type: ignore[attr-defined]  # a class made for this request
        return form

    # --- issuing: the secret is shown once ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        _, secret = token_issue(
            actor=request.user, name=obj.name, token=obj, partners=form.cleaned_data.get("partners") or []
        )
        request._prm_token_secret = secret  # for response_add, never stored

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_prm_token_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "Token issued",
            "opts": self.model._meta,
            "token": obj,
            "secret": secret,
        }
        response = TemplateResponse(request, "admin/api/integrationtoken/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected tokens")
    def revoke_selected(self, request, queryset):
        revoked = sum(token_revoke(actor=request.user, token=token) for token in queryset)
        self.message_user(
            request, f"{revoked} token(s) revoked; calls with them now answer 401.", messages.SUCCESS
        )
