from django import forms
from django.contrib import admin
from django.db import models

from gates.models import (
    BenefitGrant,
    EvaluationRun,
    Gate,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from prm.forms import PrettyJSONField


def prerequisite_cycle(gate: Gate | None, prerequisites) -> list[str] | None:
    """The names along a cycle that these prerequisites would close, if any."""
    if gate is None or gate.pk is None:
        return None
    edges: dict[int, list[int]] = {}
    for from_id, to_id in Gate.prerequisites.through.objects.values_list("from_gate_id", "to_gate_id"):
        edges.setdefault(from_id, []).append(to_id)
    edges[gate.pk] = [p.pk for p in prerequisites]
    names = dict(Gate.objects.values_list("pk", "name"))
    stack: list[tuple[int, list[int]]] = [(p.pk, [gate.pk, p.pk]) for p in prerequisites]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node == gate.pk:
            return [names.get(i, str(i)) for i in path]
        if node in seen:
            continue
        seen.add(node)
        stack.extend((nxt, [*path, nxt]) for nxt in edges.get(node, []))
    return None


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
        ]
        field_classes = {"criteria": PrettyJSONField}

    def clean(self):
        cleaned = super().clean()
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
class GateAdmin(admin.ModelAdmin):
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
    list_select_related = ["program", "unlocks_tier"]
    autocomplete_fields = ["program", "unlocks_tier"]
    filter_horizontal = ["prerequisites", "unlocks_benefits"]
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}


class ReadOnlyAdmin(admin.ModelAdmin):
    """Results are written by the evaluation only: the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
        "state",
        "as_of",
        "partners_evaluated",
        "statuses_changed",
        "tiers_changed",
        "finished_at",
    ]
    list_filter = ["kind", "state"]


@admin.register(PartnerTier)
class PartnerTierAdmin(admin.ModelAdmin):
    list_display = [
        "partner",
        "program",
        "tier",
        "since",
        "earned_tier",
        "qualified_tier",
        "grace_until",
        "override_tier",
        "override_expires_on",
    ]
    list_filter = ["program", "tier"]
    search_fields = ["partner__name"]
    list_select_related = ["partner", "program", "tier", "earned_tier", "qualified_tier", "override_tier"]
    readonly_fields = [
        "partner",
        "program",
        "tier",
        "since",
        "earned_tier",
        "qualified_tier",
        "grace_until",
        "override_by",
    ]

    def has_add_permission(self, request):
        return False


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
    list_select_related = ["partner", "program", "from_tier", "to_tier", "actor"]


@admin.register(BenefitGrant)
class BenefitGrantAdmin(ReadOnlyAdmin):
    list_display = ["partner", "benefit", "via_tier", "via_gate", "granted_at", "revoked_at"]
    list_filter = ["benefit__kind"]
    search_fields = ["partner__name", "benefit__name"]
    list_select_related = ["partner", "benefit", "via_tier", "via_gate"]


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(ReadOnlyAdmin):
    list_display = ["segment", "partner", "since"]
    list_filter = ["segment"]
    search_fields = ["partner__name"]
    list_select_related = ["segment", "partner"]
