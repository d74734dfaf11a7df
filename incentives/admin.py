"""The channel manager's side of incentives: rules with their rates and bands, and the ledger (read only).

Rules are validated by the same checks as the API (``incentives.validation``
and the models' ``clean``): a rate above 100 %, a negative amount, bands that
overlap or a missing currency are refused next to the field. A rule that has
started or earned keeps its terms; "New version" changes them from a date on.
"""

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.money import Money, is_currency
from incentives import services
from incentives.models import (
    CommissionRate,
    CustomerActivation,
    IncentivePeriod,
    IncentiveRule,
    LedgerEntry,
    LedgerTransition,
    MarginRate,
    Payout,
    RebateBand,
    Redemption,
    Reward,
    RuleKind,
)
from incentives.periods import PeriodError, parse_period
from incentives.validation import LOCKED_MESSAGE, BandInput, band_problems, duplicate_problems, rows_problem
from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin, ReadOnlyAdmin
from programs.admin_rights import ProgramRightsAdminMixin, ProgramRightsInlineMixin

# --- rules -------------------------------------------------------------------------------


class RuleChildFormSet(BaseInlineFormSet):
    """Rows a rule of one kind needs (rates, bands): required for it, refused for the others."""

    kind: str = ""
    what: str = ""

    def rows(self) -> list[dict]:
        return [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rule = self.instance
        rows = self.rows()
        problem = rows_problem(
            rule_kind=rule.kind, rule_kind_label=rule.get_kind_display(), rows_kind=self.kind, count=len(rows)
        )
        if problem:
            raise ValidationError(problem)
        if rule.kind != self.kind:
            return
        if rule.pk and self.has_changed() and IncentiveRule.objects.get(pk=rule.pk).terms_locked():
            raise ValidationError(LOCKED_MESSAGE.format(what=self.what))
        problems = self.problems(rows)
        if problems:
            raise ValidationError(problems)

    def problems(self, rows: list[dict]) -> list[str]:
        return []


class MarginRateFormSet(RuleChildFormSet):
    kind, what = RuleKind.MARGIN, "margin rates"

    def problems(self, rows):
        found = duplicate_problems(
            [(row["tier"], row.get("product_line")) for row in rows],
            lambda key: f"{key[0]} on {key[1] or 'every product line'}",
            what="rates",
        )
        rule = self.instance
        for row in rows:
            if rule.program_id and row["tier"].program_id != rule.program_id:
                found.append(f"{row['tier']} is not a tier of the rule's program.")
        return found


class CommissionRateFormSet(RuleChildFormSet):
    kind, what = RuleKind.COMMISSION, "commission rates"

    def problems(self, rows):
        return duplicate_problems(
            [(row["sourced_by"], row["closed_by"]) for row in rows],
            lambda key: f"Sourced by the {key[0]}, closed by the {key[1]},",
            what="rates",
        )


class RebateBandFormSet(RuleChildFormSet):
    kind, what = RuleKind.REBATE, "volume bands"

    def problems(self, rows):
        return band_problems(
            BandInput(row.get("lower_bound"), row.get("upper_bound"), row.get("percent")) for row in rows
        )


class RewardFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if self.instance.kind != RuleKind.POINTS and any(
            form.cleaned_data and not form.cleaned_data.get("DELETE", False) for form in self.forms
        ):
            raise ValidationError("Only points rules have rewards: remove them.")


class LockableInline(ProgramRightsInlineMixin, CoverageInlineMixin, admin.TabularInline):
    """Read only once the rule's terms are locked."""

    extra = 0

    def _locked(self, obj) -> bool:
        return obj is not None and obj.pk is not None and obj.terms_locked()

    def has_add_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_delete_permission(request, obj)


class MarginRateInline(LockableInline):
    model = MarginRate
    formset = MarginRateFormSet
    fields = ["tier", "product_line", "percent"]
    verbose_name_plural = "Margin rates (percent of the deal, by the tier held on the close date)"


class CommissionRateInline(LockableInline):
    model = CommissionRate
    formset = CommissionRateFormSet
    fields = ["sourced_by", "closed_by", "percent"]
    verbose_name_plural = "Commission rates (percent of the deal, by who ran the sales cycle)"


class RebateBandInline(LockableInline):
    model = RebateBand
    formset = RebateBandFormSet
    fields = ["lower_bound", "upper_bound", "percent"]
    verbose_name_plural = "Volume bands (from the lower bound up to, not including, the upper bound)"


class RewardInline(ProgramRightsInlineMixin, CoverageInlineMixin, admin.TabularInline):
    model = Reward
    formset = RewardFormSet
    extra = 0
    fields = ["name", "description", "points_cost", "amount", "is_active"]
    verbose_name_plural = "Rewards partners can redeem points for (valued in the rule's currency)"


class IncentiveRuleForm(forms.ModelForm):
    class Meta:
        model = IncentiveRule
        fields = [
            "name",
            "description",
            "kind",
            "program",
            "currency",
            "effective_from",
            "effective_to",
            "product_line",
            "min_tier",
            "budget",
            "budget_period",
            "paid_on_signing_percent",
            "activation_days",
            "rebate_period",
            "band_method",
            "spif_trigger",
            "spif_amount",
            "certification_type",
            "points_multiplier",
            "activity_types",
        ]

    def clean(self):
        cleaned = super().clean()
        rule = self.instance
        if (
            rule.pk
            and "activity_types" in self.changed_data
            and IncentiveRule.objects.get(pk=rule.pk).terms_locked()
        ):
            self.add_error("activity_types", LOCKED_MESSAGE.format(what="activities"))
        return cleaned


class NewVersionForm(forms.Form):
    effective_from = forms.DateField(
        label="The new version applies from",
        help_text="Today or later. The current version ends the day before; what it paid stays as it is.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _rate_row(form) -> dict:
    """An inline form's row for ``rule_save``: its fields, without the rule, id and deletion box."""
    return {name: value for name, value in form.cleaned_data.items() if name not in {"id", "rule", "DELETE"}}


def _reward_row(form) -> dict:
    """Rewards keep their id: redemptions point at them."""
    existing = form.cleaned_data.get("id")
    return {**_rate_row(form), "id": existing.pk if existing is not None else None}


@admin.register(IncentiveRule)
class IncentiveRuleAdmin(ProgramRightsAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    form = IncentiveRuleForm
    list_display = [
        "name",
        "kind",
        "program",
        "currency",
        "effective_from",
        "effective_to",
        "budget",
        "budget_period",
        "supersedes",
    ]
    list_filter = ["kind", "currency", "program"]
    search_fields = ["name", "description"]
    list_select_related = ["program", "supersedes"]
    autocomplete_fields = ["program", "product_line", "min_tier", "certification_type"]
    filter_horizontal = ["activity_types"]
    readonly_fields = ["supersedes", "version_link", "created_by", "created_at", "updated_at"]
    date_hierarchy = "effective_from"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "description",
                    "kind",
                    "program",
                    "currency",
                    "effective_from",
                    "effective_to",
                    "product_line",
                    "min_tier",
                    "budget",
                    "budget_period",
                    "version_link",
                ]
            },
        ),
        (
            "Margins and commissions: split payout",
            {"fields": ["paid_on_signing_percent", "activation_days"], "classes": ["collapse"]},
        ),
        ("Rebates", {"fields": ["rebate_period", "band_method"], "classes": ["collapse"]}),
        ("SPIFs", {"fields": ["spif_trigger", "spif_amount", "certification_type"], "classes": ["collapse"]}),
        ("Engagement points", {"fields": ["points_multiplier", "activity_types"], "classes": ["collapse"]}),
        ("History", {"fields": ["supersedes", "created_by", "created_at", "updated_at"]}),
    ]
    INLINES_BY_KIND = {
        RuleKind.MARGIN: [MarginRateInline],
        RuleKind.COMMISSION: [CommissionRateInline],
        RuleKind.REBATE: [RebateBandInline],
        RuleKind.POINTS: [RewardInline],
        RuleKind.SPIF: [],
    }

    def get_inlines(self, request, obj):
        if obj is None or obj.pk is None:
            return [MarginRateInline, CommissionRateInline, RebateBandInline, RewardInline]
        return self.INLINES_BY_KIND.get(obj.kind, [])

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk and obj.terms_locked():
            locked = [name.removesuffix("_id") for name in IncentiveRule.TERMS] + ["activity_types"]
            if obj.kind == RuleKind.SPIF:
                locked.append("budget")
            fields += [name for name in locked if name not in fields]
        return fields

    @admin.display(description="Versions")
    def version_link(self, obj):
        if obj is None or obj.pk is None:
            return "–"
        url = reverse("admin:incentives_incentiverule_new_version", args=[obj.pk])
        return format_html('<a href="{}">Change the terms from a date on (new version)</a>', url)

    # The rule, its rows and its links are written by services.rule_save, as
    # through the API: one transaction, the creator, the audit entry. Rows of
    # an inline left unchanged are left as they are.
    ROWS = {MarginRate: "margin_rates", CommissionRate: "commission_rates", RebateBand: "rebate_bands"}

    def save_model(self, request, obj, form, change):
        """Nothing yet: ``save_related`` saves the rule with its rows."""

    def save_related(self, request, form, formsets, change):
        rows: dict[str, list[dict] | None] = {}
        for formset in formsets:
            if formset.has_changed() and (formset.model in self.ROWS or formset.model is Reward):
                kept = [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
                if formset.model is Reward:
                    rows["rewards"] = [_reward_row(f) for f in kept]
                else:
                    rows[self.ROWS[formset.model]] = [_rate_row(f) for f in kept]
            # What Django's change message reads of a saved formset: the history has the rows.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        activity_types = None
        if "activity_types" in form.fields and (not change or "activity_types" in form.changed_data):
            activity_types = list(form.cleaned_data["activity_types"])
        services.rule_save(
            actor=request.user,
            rule=form.instance,
            created=not change,
            activity_types=activity_types,
            **rows,
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/new-version/",
                self.admin_site.admin_view(self.new_version_view),
                name="incentives_incentiverule_new_version",
            ),
            *super().get_urls(),
        ]

    def new_version_view(self, request, pk: int):
        rule = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_add_permission(request) or not self.has_change_permission(request, rule):
            raise PermissionDenied
        form = NewVersionForm(request.POST or None, initial={"effective_from": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            try:
                copy = services.rule_new_version(
                    actor=request.user, rule=rule, effective_from=form.cleaned_data["effective_from"]
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                self.message_user(
                    request,
                    f"{rule.name} now ends on {copy.effective_from - datetime.timedelta(days=1):%d %b %Y}; "
                    f"change the terms of the new version below.",
                    messages.SUCCESS,
                )
                return redirect("admin:incentives_incentiverule_change", copy.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"New version of {rule.name}",
            "opts": self.model._meta,
            "original": rule,
            "form": form,
        }
        return TemplateResponse(request, "admin/incentives/incentiverule/new_version.html", context)


# --- the ledger and what feeds it ------------------------------------------------------------


class TransitionInline(CoverageInlineMixin, admin.TabularInline):
    model = LedgerTransition
    fields = ["at", "from_state", "to_state", "actor", "reason"]
    readonly_fields = ["at", "from_state", "to_state", "actor", "reason"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    # The amount (with its currency) and the state stay in view at 1366 px.
    list_display = ["posted_at", "partner", "rule", "source", "kind", "value", "state", "period"]
    list_display_links = ["posted_at"]
    list_filter = ["state", "entry_type", "component", "rule__kind", "currency", "period"]
    search_fields = ["partner__name", "description", "source_id", "rule__name"]
    list_select_related = ["partner", "rule"]
    date_hierarchy = "event_on"
    inlines = [TransitionInline]

    @admin.display(description="Source")
    def source(self, obj):
        return f"{obj.get_source_type_display()} {obj.source_id}"

    @admin.display(description="Kind", ordering="component")
    def kind(self, obj):
        return f"{obj.get_component_display()}, {obj.get_entry_type_display().lower()}"

    @admin.display(description="Amount", ordering="amount")
    def value(self, obj):
        if not is_currency(obj.currency):  # points: "PTS"
            return f"{obj.amount.normalize():,f} {obj.currency}"
        return str(Money(obj.amount, obj.currency))


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["redeemed_on", "partner", "reward", "points", "amount", "currency", "requested_by"]
    list_select_related = ["partner", "reward", "requested_by"]
    search_fields = ["partner__name", "reward__name"]


class ClosePeriodForm(forms.ModelForm):
    # Longer than a code, so that a mistyped one gets the sentence saying what a period looks like.
    code = forms.CharField(max_length=40, label="Quarter")

    class Meta:
        model = IncentivePeriod
        fields = ["code"]
        labels = {"code": "Quarter"}
        help_texts = {"code": "Such as 2025-Q1. Its earnings become payable and its rebates are settled."}

    def clean_code(self):
        try:
            period = parse_period(self.cleaned_data["code"])
        except PeriodError as exc:
            raise ValidationError(str(exc)) from exc
        if period.is_year:
            raise ValidationError(
                "Close quarters one at a time; closing the fourth settles the year's rebates."
            )
        if period.end >= timezone.localdate():
            raise ValidationError(f"{period.label()} runs until {period.end:%d %b %Y}: close it after that.")
        return period.code

    def validate_unique(self):
        """Closing a quarter again is allowed (it recalculates and releases); the service handles it."""


@admin.register(IncentivePeriod)
class IncentivePeriodAdmin(CoverageAdminMixin, admin.ModelAdmin):
    list_display = ["code", "starts_on", "ends_on", "closed_at", "closed_by"]
    readonly_fields = ["starts_on", "ends_on", "closed_at", "closed_by"]
    actions = ["close_again"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ClosePeriodForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["code"] if obj is None else ["code", "starts_on", "ends_on", "closed_at", "closed_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        result = services.period_close(period=parse_period(form.cleaned_data["code"]), actor=request.user)
        obj.pk = IncentivePeriod.objects.get(code=result.period).pk
        self.message_user(
            request,
            f"{result.period} closed: {result.calculation.entries} entries written, {result.released} made payable.",
            messages.SUCCESS,
        )

    def save_related(self, request, form, formsets, change):
        """Nothing else to save: the service wrote the period."""

    @admin.action(description="Close again (recalculate and release what is due)")
    def close_again(self, request, queryset):
        for period in queryset:
            result = services.period_close(period=parse_period(period.code), actor=request.user)
            self.message_user(
                request, f"{result.period}: {result.calculation.entries} entries, {result.released} released."
            )


class ActivationForm(forms.ModelForm):
    class Meta:
        model = CustomerActivation
        fields = ["deal", "activated_on", "metric"]

    def clean(self):
        cleaned = super().clean() or {}
        deal, day = cleaned.get("deal"), cleaned.get("activated_on")
        if deal is not None:
            for field, message in services.activation_problems(deal=deal, activated_on=day).items():
                if field not in self.errors:
                    self.add_error(field, message)
        return cleaned

    def validate_unique(self):
        """A second activation of a deal corrects the first (the service updates it)."""


@admin.register(CustomerActivation)
class CustomerActivationAdmin(CoverageAdminMixin, admin.ModelAdmin):
    form = ActivationForm
    list_display = ["deal", "activated_on", "metric", "recorded_by", "recorded_at"]
    list_select_related = ["deal", "recorded_by"]
    autocomplete_fields = ["deal"]
    search_fields = ["deal__customer_name", "deal__partner__name"]

    def save_model(self, request, obj, form, change):
        saved = services.activation_record(
            actor=request.user,
            deal=form.cleaned_data["deal"],
            activated_on=form.cleaned_data["activated_on"],
            metric=form.cleaned_data.get("metric", ""),
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False


class PayoutForm(forms.ModelForm):
    class Meta:
        model = Payout
        fields = ["partner", "currency", "reference", "paid_on"]

    def clean(self):
        cleaned = super().clean() or {}
        partner, currency = cleaned.get("partner"), cleaned.get("currency")
        if partner is not None and currency:
            problems = services.payout_problems(
                partner=partner, currency=currency, reference=cleaned.get("reference", "")
            )
            for field, message in problems.items():
                if field not in self.errors:
                    self.add_error(field, message)
        return cleaned


@admin.register(Payout)
class PayoutAdmin(CoverageAdminMixin, admin.ModelAdmin):
    form = PayoutForm
    list_display = ["paid_on", "partner", "amount", "currency", "reference", "created_by"]
    list_select_related = ["partner", "created_by"]
    search_fields = ["reference", "partner__name"]
    autocomplete_fields = ["partner"]

    def get_readonly_fields(self, request, obj=None):
        return ["partner", "currency", "reference", "paid_on", "amount"] if obj else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        payout = services.payout_record(
            actor=request.user,
            partner=form.cleaned_data["partner"],
            currency=form.cleaned_data["currency"],
            reference=form.cleaned_data["reference"],
            paid_on=form.cleaned_data.get("paid_on"),
        )
        obj.pk = payout.pk
        obj.amount = payout.amount
        self.message_user(
            request, f"Paid {payout.amount:,f} {payout.currency} to {payout.partner}.", messages.SUCCESS
        )
