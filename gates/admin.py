import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from criteria.tree import CriteriaError
from gates import services, whatif
from gates.admin_replay import ReplayAdminMixin
from gates.describe import describe_criteria
from gates.metrics import load_references
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    Gate,
    GateState,
    GateStatus,
    GateStatusChange,
    GateVersion,
    PartnerTier,
    SegmentMembership,
    TierChange,
    WhatIfRun,
    prerequisite_cycle,
)
from gates.validation import parse_criteria
from gates.widgets import CriteriaBuilderWidget
from partners.admin_coverage import CoverageAdminMixin, ReadOnlyAdmin
from partners.models import Partner
from prm.forms import PrettyJSONField
from prm.ids import object_or_404, parse_id
from programs import admin as programs_admin
from programs.admin_rights import ProgramRightsAdminMixin
from programs.models import Program, Segment, SegmentVersion


class GateForm(forms.ModelForm):
    class Meta:
        model = Gate
        fields = [
            "program",
            "name",
            "description",
            "state",
            "effective_from",
            "effective_to",
            "prerequisites",
            "criteria",
            "currency",
            "unlocks_tier",
            "unlocks_benefits",
            "unlocks_specialisation",
            "forecast_horizon_days",
        ]
        field_classes = {"criteria": PrettyJSONField}
        widgets = {"criteria": CriteriaBuilderWidget}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, the horizon keeps its default (or the gate's current one).
        if "forecast_horizon_days" in self.fields:  # absent from a read-only form
            self.fields["forecast_horizon_days"].required = False
        if "criteria" in self.fields and not self.instance.pk:
            # A new gate starts as an empty "every condition holds" branch for the builder to fill.
            self.fields["criteria"].initial = {"all": []}
            self.fields[
                "criteria"
            ].help_text = "Build the rule with the editor; the JSON is its advanced view."

    def clean_forecast_horizon_days(self):
        value = self.cleaned_data.get("forecast_horizon_days")
        if value is None:
            return self.instance.forecast_horizon_days
        return value

    def clean(self):
        cleaned = super().clean() or {}
        prerequisites = cleaned.get("prerequisites")
        if prerequisites is not None:
            if self.instance.pk and any(p.pk == self.instance.pk for p in prerequisites):
                self.add_error("prerequisites", "A gate cannot be its own prerequisite.")
            else:
                cycle = prerequisite_cycle(self.instance, prerequisites)
                if cycle:
                    self.add_error(
                        "prerequisites", "These prerequisites make a cycle: " + " → ".join(cycle) + "."
                    )
        return cleaned


@admin.register(Gate)
class GateAdmin(ReplayAdminMixin, ProgramRightsAdminMixin, CoverageAdminMixin, admin.ModelAdmin):
    form = GateForm
    list_display = [
        "name",
        "program",
        "state",
        "unlocks_tier",
        "effective_from",
        "effective_to",
        "updated_at",
    ]
    list_filter = ["state", "program"]
    search_fields = ["name", "description", "unlocks_specialisation"]
    list_select_related = ["program", "unlocks_tier__program"]
    autocomplete_fields = ["program", "unlocks_tier"]
    filter_horizontal = ["prerequisites", "unlocks_benefits"]
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
    actions = ["simulate_selected", "replay_selected", "retire_selected"]
    change_form_template = "admin/gates/gate/change_form.html"

    def get_urls(self):
        return [
            path("simulate/", self.admin_site.admin_view(self.simulate_view), name="gates_gate_simulate"),
            path("describe/", self.admin_site.admin_view(self.describe_view), name="gates_gate_describe"),
            path("<str:object_id>/diff/", self.admin_site.admin_view(self.diff_view), name="gates_gate_diff"),
            path(
                "whatif/<str:run_id>/", self.admin_site.admin_view(self.whatif_view), name="gates_gate_whatif"
            ),
            path(
                "whatif/<str:run_id>/progress/",
                self.admin_site.admin_view(self.whatif_progress_view),
                name="gates_gate_whatif_progress",
            ),
            path(
                "whatif/<str:run_id>/movers.csv",
                self.admin_site.admin_view(self.whatif_csv_view),
                name="gates_gate_whatif_csv",
            ),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        # The gate as stored, relations included, before this save changes it.
        form.definition_before = (
            services.gate_definition(Gate.objects.select_related("program").get(pk=obj.pk))
            if change
            else None
        )
        if change and form.definition_before.state == GateState.ACTIVE:
            stored = Gate.objects.get(pk=obj.pk)
            if (obj.criteria, obj.currency) != (stored.criteria, stored.currency):
                # An active gate is not edited in place: the new criteria become its draft.
                draft = services.gate_draft_save(
                    actor=request.user, gate=stored, criteria=obj.criteria, currency=obj.currency
                )
                obj.criteria, obj.currency = stored.criteria, stored.currency
                self.message_user(
                    request,
                    f"The new criteria are saved as draft version {draft.version}; "
                    "they apply once that version is published.",
                    messages.WARNING,
                )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.gate_saved(actor=request.user, gate=form.instance, before=form.definition_before)

    @admin.action(description="Simulate (what-if) the selected gates")
    def simulate_selected(self, request, queryset):
        # Their drafts where they have one; together, in one measuring pass.
        gates = queryset.select_related("program").prefetch_related("prerequisites", "unlocks_benefits")
        return self._queue_simulation(request, [whatif.whatif_entry(gate) for gate in gates])

    @admin.action(description="Retire the selected gates")
    def retire_selected(self, request, queryset):
        # Only the gates of programs the user manages; the others are named, not retired.
        allowed = queryset.actionable_by(request.user, "manage")
        refused = queryset.exclude(pk__in=allowed.values("pk")).count()
        if refused:
            self.message_user(
                request,
                f"{refused} gate(s) belong to programs you do not manage: left as they are.",
                messages.WARNING,
            )
        # Together: one transaction, one re-evaluation of every partner.
        retired = services.gates_retire(actor=request.user, gates=list(allowed))
        self.message_user(request, f"{retired} gate(s) retired; partners are re-evaluated.")

    def simulate_view(self, request):
        """What-if for a gate (its draft, if any), or for the change form's current (unsaved) values."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        gate = None
        if request.GET.get("gate"):
            gate = object_or_404(self.get_queryset(request), request.GET["gate"])
        if request.method != "POST":
            if gate is None:
                raise PermissionDenied
            return self._queue_simulation(request, [whatif.whatif_entry(gate)])
        form = GateForm(request.POST, instance=gate)
        form.is_valid()
        criteria = form.cleaned_data.get("criteria")
        program = form.cleaned_data.get("program")
        if criteria is None or program is None or "criteria" in form.errors:
            errors = [
                str(e) for e in form.errors.get("criteria", ["the criteria or the program are missing"])
            ]
            return self._render_whatif(request, None, errors=errors)
        currency = form.cleaned_data.get("currency") or program.base_currency
        # The form's values, on the gate being edited or on a new one (never saved here).
        draft = Gate(
            pk=gate.pk if gate else None,
            name=form.cleaned_data.get("name") or "Draft gate",
            program=program,
            criteria=criteria,
            unlocks_tier=form.cleaned_data.get("unlocks_tier"),
            version=gate.version if gate else 1,
        )
        entry = whatif.whatif_entry(
            draft,
            criteria=criteria,
            currency=currency,
            prerequisite_ids=[p.pk for p in form.cleaned_data.get("prerequisites") or []],
        )
        entry["draft"] = True
        entry["benefits"] = sorted(b.pk for b in form.cleaned_data.get("unlocks_benefits") or [])
        return self._queue_simulation(request, [entry])

    def _queue_simulation(self, request, entries):
        try:
            run = whatif.whatif_queue(actor=request.user, entries=entries)
        except whatif.WhatIfError as exc:
            return self._render_whatif(request, None, errors=exc.errors)
        # Run already (no broker) or queued: the run's page shows where it is.
        return HttpResponseRedirect(reverse("admin:gates_gate_whatif", args=[run.pk]))

    def _whatif_run(self, request, run_id) -> WhatIfRun:
        """The run, if the user asked for it (its result names the partners he covers)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return whatif.whatif_mark_lost(object_or_404(WhatIfRun.objects.visible_to(request.user), run_id))

    def whatif_view(self, request, run_id):
        """A simulation: its progress while it runs (polled), then its report."""
        return self._render_whatif(request, self._whatif_run(request, run_id))

    def whatif_progress_view(self, request, run_id):
        """The progress bar the run's page polls; once the run is over, the page reloads as the report."""
        run = self._whatif_run(request, run_id)
        if run.finished and request.htmx:
            return HttpResponseClientRedirect(reverse("admin:gates_gate_whatif", args=[run.pk]))
        return TemplateResponse(request, "admin/gates/gate/_whatif_progress.html", {"run": run})

    def whatif_csv_view(self, request, run_id):
        run = self._whatif_run(request, run_id)
        response = HttpResponse(whatif.whatif_movers_csv(run), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="what-if-{run.pk}-movers.csv"'
        return response

    def _render_whatif(self, request, run, *, errors=()):
        result = run.result if run is not None and run.state == WhatIfRun.State.DONE else None
        context = {
            **self.admin_site.each_context(request),
            "title": "What-if simulation",
            "opts": self.model._meta,
            "run": run,
            "result": result,
            "movers": (result or {}).get("movers", [])[: whatif.MOVERS_SHOWN],
            "errors": errors,
        }
        return TemplateResponse(request, "admin/gates/gate/whatif.html", context)

    def diff_view(self, request, object_id):
        """Two versions of a gate side by side in words, and who passes under each among the user's partners."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        gate = object_or_404(self.get_queryset(request), object_id)
        return version_diff_page(
            request,
            self.admin_site,
            owner=gate,
            versions=GateVersion.objects.filter(gate=gate).order_by("-version"),
            current=gate.version,
            title=f"Compare versions of “{gate}”",
            changelist=("Gates", reverse("admin:gates_gate_changelist")),
            change_url=reverse("admin:gates_gate_change", args=[gate.pk]),
            versions_url=reverse("admin:gates_gateversion_changelist") + f"?gate__id__exact={gate.pk}",
            diff=services.gate_versions_diff,
            noun="gate",
        )

    def describe_view(self, request):
        """The rule being built, in the plain language partners read, or its problems by place in the tree."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        sentence, errors = "", []
        try:
            data = json.loads(request.POST.get("criteria") or "null")
        except ValueError:
            errors = ["criteria: not valid JSON."]
        else:
            currency = (request.POST.get("currency") or "").strip() or self._program_currency(
                request.POST.get("program")
            )
            try:
                refs = load_references()
                tree = parse_criteria(data, default_currency=currency, references=refs)
            except CriteriaError as exc:
                errors = exc.errors
            else:
                sentence = describe_criteria(tree, refs)
        located = [(e.split(":", 1)[0] if ":" in e else "criteria", e) for e in errors]
        return TemplateResponse(
            request, "admin/gates/gate/_criteria_description.html", {"sentence": sentence, "errors": located}
        )

    @staticmethod
    def _program_currency(program_id: str | None) -> str | None:
        """A gate without a currency of its own counts money in its program's base currency."""
        if not (program_id or "").isdigit():
            return None
        return Program.objects.filter(pk=int(program_id or 0)).values_list("base_currency", flat=True).first()


def version_diff_page(
    request, admin_site, *, owner, versions, current, title, changelist, change_url, versions_url, diff, noun
):
    """The page comparing two versions of a gate or a segment: ``?before=&after=`` version numbers,
    by default the current version and the draft (or the version before the current one)."""
    by_number = {version.version: version for version in versions}
    draft = next((n for n, v in by_number.items() if v.state == GateVersion.State.DRAFT), None)
    if draft is not None:
        defaults = {"before": current, "after": draft}
    else:
        # No draft: what the last publishing changed.
        defaults = {"before": max((n for n in by_number if n < current), default=current), "after": current}
    picked = []
    for name in ("before", "after"):
        raw = request.GET.get(name)
        number = parse_id(raw) if raw else defaults[name]
        if number not in by_number:
            raise Http404(f"{name}: no such version.")
        picked.append(by_number[number])
    errors: list[str] = []
    result = None
    try:
        result = diff(before=picked[0], after=picked[1], partners=Partner.objects.visible_to(request.user))
    except CriteriaError as exc:
        errors = exc.errors
    context = {
        **admin_site.each_context(request),
        "title": title,
        "owner": owner,
        "versions": list(by_number.values()),
        "before": picked[0],
        "after": picked[1],
        "current": current,
        "diff": result,
        "errors": errors,
        "changelist_name": changelist[0],
        "changelist_url": changelist[1],
        "change_url": change_url,
        "versions_url": versions_url,
        "movers_shown": whatif.MOVERS_SHOWN,
        # A gate's partners pass it; a segment's are in it.
        "passing": "Pass" if noun == "gate" else "In",
    }
    return TemplateResponse(request, "admin/gates/version_diff.html", context)


@admin.register(GateVersion)
class GateVersionAdmin(programs_admin.VersionAdminMixin, ReadOnlyAdmin):
    """Versions are drafted from the gate's change form and published here; a published one is read-only."""

    owner_field = "gate"
    diff_url_name = "admin:gates_gate_diff"
    list_display = ["gate", *programs_admin.VERSION_COLUMNS]
    list_filter = ["state"]
    actions = ["publish_today"]
    search_fields = ["gate__name"]
    list_select_related = ["gate", "published_by"]

    @staticmethod
    def publish(*, actor, draft) -> None:
        services.gate_version_publish(actor=actor, draft=draft)


@admin.register(GateStatus)
class GateStatusAdmin(ReadOnlyAdmin):
    list_display = ["partner", "gate", "status", "since", "measures"]
    list_filter = ["status", "gate"]
    search_fields = ["partner__name", "gate__name"]
    list_select_related = ["partner", "gate"]


@admin.register(GateStatusChange)
class GateStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "partner", "gate", "from_status", "to_status", "measures"]
    list_filter = ["to_status", "gate"]
    search_fields = ["partner__name", "gate__name"]
    list_select_related = ["partner", "gate"]
    date_hierarchy = "changed_at"


@admin.register(EvaluationRun)
class EvaluationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "kind",
        "progress",
        "chunks",
        "as_of",
        "partners_evaluated",
        "statuses_changed",
        "tiers_changed",
        "finished_at",
    ]
    list_filter = ["kind", "state"]

    @admin.display(description="State", ordering="state")
    def progress(self, run: EvaluationRun) -> str:
        """A run marked running without progress for long is said to be stale, before the next run marks it."""
        if run.looks_stale:
            since = timezone.localtime(run.last_progress_at)
            return f"Stale: no progress since {since:%d %b %Y %H:%M}"
        if run.state == EvaluationRun.State.STALE:
            return f"{run.get_state_display()} (a later run took over)"
        return run.get_state_display()

    @admin.display(description="Chunks done")
    def chunks(self, run: EvaluationRun) -> str:
        """How far a run of every partner got: chunks done out of total, and the share spent in the database."""
        if not run.chunks_total:
            return "—"
        where = ""
        if run.chunk_seconds:
            share = run.chunk_sql_seconds / run.chunk_seconds
            where = f" ({run.chunk_seconds:.1f} s, {share:.0%} in the database)"
        workers = ", on the workers" if run.fanned_out else ""
        return f"{run.chunk_progress}{workers}{where}"


class PartnerTierForm(forms.ModelForm):
    class Meta:
        model = PartnerTier
        fields = ["partner", "program", "override_tier", "override_reason", "override_expires_on"]

    def clean(self):
        cleaned = super().clean() or {}
        tier = cleaned.get("override_tier")
        program = cleaned.get("program") or (self.instance.program if self.instance.pk else None)
        if tier is not None:
            if program is not None and tier.program_id != program.pk:
                self.add_error("override_tier", "This tier belongs to another program.")
            if not (cleaned.get("override_reason") or "").strip():
                self.add_error(
                    "override_reason", "Give the reason for the override; partners and auditors see it."
                )
            expires = cleaned.get("override_expires_on")
            if expires is not None and expires < timezone.localdate():
                self.add_error("override_expires_on", "The override would already have expired.")
        return cleaned


@admin.register(PartnerTier)
class PartnerTierAdmin(CoverageAdminMixin, admin.ModelAdmin):
    """Tiers are earned through gates; a channel manager may override one with a reason and an expiry."""

    form = PartnerTierForm
    # Tier names without their program's (the program has its column), the override with its expiry.
    list_display = ["partner", "program", "held", "since", "earned", "grace_until", "override"]
    list_display_links = ["partner"]
    list_filter = ["program", "tier"]
    search_fields = ["partner__name"]
    list_select_related = [
        "partner",
        "program",
        "tier__program",
        "earned_tier__program",
        "qualified_tier__program",
        "override_tier__program",
    ]
    autocomplete_fields = ["partner", "program"]
    readonly_fields = ["tier", "since", "earned_tier", "qualified_tier", "grace_until", "override_by"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "partner", "program"] if obj else self.readonly_fields

    @admin.display(description="Tier", ordering="tier__rank")
    def held(self, obj: PartnerTier) -> str:
        return obj.tier.name if obj.tier else "–"

    @admin.display(description="Earned / qualified")
    def earned(self, obj: PartnerTier) -> str:
        earned = obj.earned_tier.name if obj.earned_tier else "–"
        if obj.qualified_tier_id == obj.earned_tier_id:
            return earned
        return f"{earned} / {obj.qualified_tier.name if obj.qualified_tier else '–'}"

    @admin.display(description="Override", ordering="override_tier__rank")
    def override(self, obj: PartnerTier) -> str:
        if obj.override_tier is None:
            return "–"
        if obj.override_expires_on is None:
            return obj.override_tier.name
        return f"{obj.override_tier.name} until {obj.override_expires_on:%d %b %Y}"

    def save_model(self, request, obj, form, change):
        partner = obj.partner
        program = obj.program
        tier = form.cleaned_data.get("override_tier")
        if tier is not None:
            services.tier_override_set(
                actor=request.user,
                partner=partner,
                program=program,
                tier=tier,
                reason=form.cleaned_data["override_reason"],
                expires_on=form.cleaned_data.get("override_expires_on"),
            )
        elif change and PartnerTier.objects.filter(pk=obj.pk, override_tier__isnull=False).exists():
            services.tier_override_clear(actor=request.user, partner_tier=obj, note="cleared in the admin")
        elif not change:
            PartnerTier.objects.get_or_create(partner=partner, program=program)
        saved = PartnerTier.objects.get(partner=partner, program=program)
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "changed_at",
        "partner",
        "program",
        "from_tier",
        "to_tier",
        "reason",
        "effective_on",
        "actor",
    ]
    list_filter = ["reason", "program"]
    search_fields = ["partner__name", "note"]
    list_select_related = ["partner", "program", "from_tier__program", "to_tier__program", "actor"]


@admin.register(BenefitGrant)
class BenefitGrantAdmin(ReadOnlyAdmin):
    list_display = ["partner", "benefit", "via_tier", "via_gate", "granted_at", "revoked_at"]
    list_filter = ["benefit__kind"]
    search_fields = ["partner__name", "benefit__name"]
    list_select_related = ["partner", "benefit", "via_tier__program", "via_gate"]


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(ReadOnlyAdmin):
    list_display = ["segment", "partner", "since"]
    list_filter = ["segment"]
    search_fields = ["partner__name"]
    list_select_related = ["segment", "partner"]


admin.site.unregister(Segment)


@admin.register(Segment)
class SegmentAdmin(programs_admin.SegmentAdmin):
    """The programs' segment admin, with its versions compared: measuring partners is the gates' work."""

    def get_urls(self):
        return [
            path(
                "<str:object_id>/diff/",
                self.admin_site.admin_view(self.diff_view),
                name="programs_segment_diff",
            ),
            *super().get_urls(),
        ]

    def diff_view(self, request, object_id):
        """Two versions of a segment side by side in words, and who is in it under each (among the user's partners)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        segment = object_or_404(self.get_queryset(request), object_id)
        return version_diff_page(
            request,
            self.admin_site,
            owner=segment,
            versions=SegmentVersion.objects.filter(segment=segment).order_by("-version"),
            current=segment.version,
            title=f"Compare versions of “{segment}”",
            changelist=("Segments", reverse("admin:programs_segment_changelist")),
            change_url=reverse("admin:programs_segment_change", args=[segment.pk]),
            versions_url=reverse("admin:programs_segmentversion_changelist")
            + f"?segment__id__exact={segment.pk}",
            diff=services.criteria_diff,
            noun="segment",
        )
