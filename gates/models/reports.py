"""Reports the admin and the API ask for and read back: what-if simulations and replays against history."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.door import DoorQuerySet, is_active_user, principal_user
from gates.models.evaluation import (
    Gate,
    _day,
)


class WhatIfRunQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "WhatIfRunQuerySet":
        """A run's result names the partners its requester covers: he sees it, and superusers.

        Another channel manager, whose coverage may be narrower, sees none of it.
        """
        user = principal_user(principal)
        if not is_active_user(user) or not user.is_staff:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(requested_by=user)


class WhatIfRun(models.Model):
    """A what-if simulation of gates (drafts, or criteria not yet saved) over the partners its requester sees.

    ``gates`` holds what was simulated, as it stood when asked for: per gate its
    id (None for a gate not saved yet), name, program, version, criteria,
    currency, prerequisites and the tier it unlocks. It is measured in the
    background, chunk by chunk (``gates.whatif.whatif_run``); ``result`` is the
    report, written once at the end. Nothing is written to partners' results.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    gates = models.JSONField(help_text="What was simulated: one entry per gate, as asked for.")
    as_of = models.DateField()
    scope = models.CharField(
        max_length=200, blank=True, help_text="Whose partners were simulated, in words (the requester's)."
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    partners_total = models.PositiveIntegerField(default=0)
    partners_done = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run last showed progress (taken up, or a chunk done)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = WhatIfRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        names = ", ".join(gate["name"] for gate in self.gates) if isinstance(self.gates, list) else ""
        return f"What-if of {names} ({self.get_state_display().lower()})"

    @property
    def percent_done(self) -> int:
        if self.state == self.State.DONE:
            return 100
        if not self.chunks_total:
            return 0
        return min(100, self.chunks_done * 100 // self.chunks_total)

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


class ReplayRunQuerySet(WhatIfRunQuerySet):
    """Like a what-if, a replay's report counts the partners its requester covers: his, and superusers'."""


class ReplayRun(models.Model):
    """A gate's draft or past version replayed over past dates, beside the versions that were live then.

    ``gate_entry`` holds what is replayed, as it stood when asked for (the
    gate's id, name, program, version, criteria, currency, prerequisites and
    the tier it unlocks). ``dates`` are the month or quarter ends measured.
    ``known_then`` counts only the facts stored by the end of each date
    (their ``created_at``); otherwise facts recorded late count as well.
    The tier distribution of each date is in ``rows``; nothing is written to
    partners' results.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Period(models.TextChoices):
        MONTH = "month", "Each month end"
        QUARTER = "quarter", "Each quarter end"

    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="replays")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    gate_entry = models.JSONField(help_text="What was replayed: the gate's draft or version, as asked for.")
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.QUARTER)
    dates = models.JSONField(default=list, help_text="The dates measured, oldest first (ISO days).")
    known_then = models.BooleanField(
        default=True, help_text="Count only the facts stored by each date, not those recorded later."
    )
    scope = models.CharField(
        max_length=200, blank=True, help_text="Whose partners were replayed, in words (the requester's)."
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    # Every date is measured chunk by chunk of partners, all dates at once: progress is in chunks.
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    partners_total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run last showed progress (taken up, or a date done)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text="What the report cannot tell, in words.")
    error = models.TextField(blank=True)

    objects = ReplayRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        name = self.gate_entry.get("name", "") if isinstance(self.gate_entry, dict) else ""
        return f"Replay of {name} ({self.get_state_display().lower()})"

    @property
    def percent_done(self) -> int:
        if self.state == self.State.DONE:
            return 100
        if not self.chunks_total:
            return 0
        return min(100, self.chunks_done * 100 // self.chunks_total)

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


class ReplayRow(models.Model):
    """How many partners held a tier on one date of a replay: under the replayed rule and under the live ones."""

    run = models.ForeignKey(ReplayRun, on_delete=models.CASCADE, related_name="rows")
    day = models.DateField()
    position = models.PositiveSmallIntegerField(help_text="The tier's place on the ladder, 0 for no tier.")
    tier = models.ForeignKey(
        "programs.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tier_name = models.CharField(max_length=200)
    replayed = models.PositiveIntegerField(default=0)
    live = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "day", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "day", "position"], name="replay_row_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tier_name} on {_day(self.day)}: {self.replayed} replayed, {self.live} live"
