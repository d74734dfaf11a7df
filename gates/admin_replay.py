"""Replay against history in the gate admin: the form, the run's page (polled while it runs) and its report."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django_htmx.http import HttpResponseClientRedirect

from gates import replay
from gates.models import Gate, GateVersion, ReplayRun
from prm.ids import object_or_404

KNOWN_CHOICES = [
    ("then", "As they were known on each date (facts recorded later are left out)"),
    ("now", "As they are known now (facts recorded late count on the date they describe)"),
]


class ReplayForm(forms.Form):
    version = forms.ChoiceField(label="Rule to replay")
    period = forms.ChoiceField(choices=ReplayRun.Period.choices, initial=ReplayRun.Period.QUARTER)
    count = forms.IntegerField(
        label="Number of dates",
        min_value=1,
        max_value=replay.MAX_DATES,
        initial=8,
        help_text=f"The last period ends before today, {replay.MAX_DATES} at most (8 quarter ends: two years).",
    )
    known = forms.ChoiceField(label="Facts", choices=KNOWN_CHOICES, initial="then", widget=forms.RadioSelect)

    def __init__(self, *args, gate: Gate, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", f"Its draft if it has one, else its current criteria (version {gate.version})")]
        for version in GateVersion.objects.filter(gate=gate).order_by("-version"):
            choices.append(
                (str(version.version), f"Version {version.version} ({version.get_state_display()})")
            )
        version_field = self.fields["version"]
        assert isinstance(version_field, forms.ChoiceField)
        version_field.choices = choices
        version_field.required = False


def _chart(report: dict) -> dict:
    """The report as a stacked bar chart's data: per tier one bar part under each series, side by side."""
    labels = [item["day"] for item in report["dates"]]
    datasets = []
    for colour, tier in enumerate(report["tiers"]):
        for series, words in (("replayed", "replayed"), ("live", "live versions")):
            datasets.append(
                {
                    "label": f"{tier}, {words}",
                    "stack": series,
                    "colour": colour,
                    "data": [
                        next((t[series] for t in item["tiers"] if t["tier"] == tier), 0)
                        for item in report["dates"]
                    ],
                }
            )
    return {"type": "bar", "stacked": True, "labels": labels, "datasets": datasets}


class ReplayAdminMixin:
    """Adds the replay pages and action to ``GateAdmin``."""

    def get_urls(self):
        site = self.admin_site  # type: ignore[attr-defined]
        return [
            path(
                "<str:gate_id>/replay/", site.admin_view(self.replay_form_view), name="gates_gate_replay_form"
            ),
            path("replays/<str:run_id>/", site.admin_view(self.replay_view), name="gates_gate_replay"),
            path(
                "replays/<str:run_id>/progress/",
                site.admin_view(self.replay_progress_view),
                name="gates_gate_replay_progress",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    @admin.action(description="Replay the selected gate against history")
    def replay_selected(self, request, queryset):
        gates = list(queryset.order_by("pk")[:2])
        if len(gates) != 1:
            self.message_user(request, "Replay one gate at a time.", messages.WARNING)  # type: ignore[attr-defined]
            return None
        return HttpResponseRedirect(reverse("admin:gates_gate_replay_form", args=[gates[0].pk]))

    def replay_form_view(self, request, gate_id):
        """Choose what to replay and over which dates; posting queues the replay and opens its page."""
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        gate = object_or_404(
            self.get_queryset(request).select_related("program"),  # type: ignore[attr-defined]
            gate_id,
        )
        form = ReplayForm(request.POST or None, gate=gate)
        if request.method == "POST" and form.is_valid():
            version = form.cleaned_data["version"]
            try:
                run = replay.replay_queue(
                    actor=request.user,
                    gate=gate,
                    version=int(version) if version else None,
                    period=form.cleaned_data["period"],
                    count=form.cleaned_data["count"],
                    known_then=form.cleaned_data["known"] == "then",
                )
            except replay.ReplayError as exc:
                for field, field_errors in exc.errors.items():
                    for error in field_errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                return HttpResponseRedirect(reverse("admin:gates_gate_replay", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"Replay “{gate.name}” against history",
            "opts": Gate._meta,
            "gate": gate,
            "form": form,
        }
        return TemplateResponse(request, "admin/gates/gate/replay_form.html", context)

    def _replay_run(self, request, run_id) -> ReplayRun:
        """The run, if the user asked for it (its report counts the partners he covers)."""
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return replay.replay_mark_lost(object_or_404(ReplayRun.objects.visible_to(request.user), run_id))

    def replay_view(self, request, run_id):
        """A replay: its progress while it runs (polled), then the chart and the table."""
        run = self._replay_run(request, run_id)
        report = replay.replay_report(run) if run.state == ReplayRun.State.DONE else None
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": "Replay against history",
            "opts": Gate._meta,
            "run": run,
            "report": report,
            "chart": _chart(report) if report else None,
        }
        return TemplateResponse(request, "admin/gates/gate/replay.html", context)

    def replay_progress_view(self, request, run_id):
        """The progress bar the run's page polls; once the run is over, the page reloads as the report."""
        run = self._replay_run(request, run_id)
        if run.finished and request.htmx:
            return HttpResponseClientRedirect(reverse("admin:gates_gate_replay", args=[run.pk]))
        return TemplateResponse(request, "admin/gates/gate/_replay_progress.html", {"run": run})
