"""Gates and their versions, and what the evaluation concludes about each partner: statuses, tiers,
benefit grants, segment memberships, with the history of each."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import dateformat, timezone

from core.door import is_active_user, principal_user
from core.money import CurrencyField
from gates.validation import criteria_errors
from history.tracking import track_links, tracked
from partners.models import Partner, PartnerScopedQuerySet
from programs.models import CriteriaVersion, DefinitionQuerySet, Program, refuse_edit_in_place


def _day(day: datetime.date) -> str:
    """A date as people read it (31 March 2027), as the portal shows dates."""
    return dateformat.format(day, "j F Y")


# The longest a forecast looks ahead: a year and a day covers every quarter and year end.
MAX_FORECAST_HORIZON_DAYS = 366


class GateState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class GateQuerySet(DefinitionQuerySet):
    def in_effect(self, day: datetime.date) -> "GateQuerySet":
        return self.filter(state=GateState.ACTIVE).filter(
            Q(effective_from__isnull=True) | Q(effective_from__lte=day),
            Q(effective_to__isnull=True) | Q(effective_to__gte=day),
        )

    def visible_to(self, principal) -> "GateQuerySet":
        """Staff see every gate; partners the active gates of programs they can see."""
        user = principal_user(principal)
        if user is None or not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(state=GateState.ACTIVE, program__in=Program.objects.visible_to(principal))


@tracked()
class Gate(models.Model):
    """An acceleration gate: measurable criteria that unlock a tier, benefits or a specialisation."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="gates")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=8, choices=GateState.choices, default=GateState.DRAFT)
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True)
    prerequisites = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="dependants",
        help_text="Gates a partner must pass before this one can pass.",
    )
    criteria = models.JSONField(help_text="The criteria tree; see the gate language in the README.")
    currency = CurrencyField(
        blank=True, help_text="Currency of money criteria; empty means the program's base currency."
    )
    unlocks_tier = models.ForeignKey(
        "programs.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="gates",
        help_text="The tier a partner qualifies for by passing this gate.",
    )
    unlocks_benefits = models.ManyToManyField("programs.Benefit", blank=True, related_name="gates")
    unlocks_specialisation = models.CharField(max_length=200, blank=True)
    forecast_horizon_days = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_FORECAST_HORIZON_DAYS)],
        help_text="How many days ahead partners passing this gate are warned that they would stop passing.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GateQuerySet.as_manager()

    class Meta:
        ordering = ["program", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "name"],
                name="gate_unique_name",
                violation_error_message="This program already has a gate with this name.",
                violation_error_code="unique",
            ),
            models.UniqueConstraint(
                fields=["unlocks_tier"],
                condition=Q(state="active"),
                name="gate_one_active_per_tier",
                violation_error_message="Another active gate already unlocks this tier.",
                violation_error_code="unique",
            ),
            models.CheckConstraint(
                name="gate_effective_dates_ordered",
                condition=Q(effective_from__isnull=True)
                | Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                violation_error_message="The gate ends before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        in_use = Gate.objects.filter(pk=self.pk, state=GateState.ACTIVE)
        refuse_edit_in_place(self, kwargs.get("update_fields"), in_use, "An active gate")
        super().save(*args, **kwargs)

    @property
    def money_currency(self) -> str:
        return self.currency or self.program.base_currency

    def clean(self) -> None:
        errors: dict[str, list[str] | str] = {}
        if self.program_id is not None:
            criteria_problems = criteria_errors(self.criteria, default_currency=self.money_currency)
            if criteria_problems:
                errors["criteria"] = criteria_problems
            tier = self.unlocks_tier if self.unlocks_tier_id is not None else None
            if tier is not None and tier.program_id != self.program_id:
                errors["unlocks_tier"] = "The tier belongs to another program."
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            errors["effective_to"] = "The gate ends before it starts."
        if errors:
            raise ValidationError(errors)


class PartnerResultQuerySet(PartnerScopedQuerySet):
    """What the evaluation concluded about partners: the one door to results and their history.

    Staff see the results of the partners they see. A partner's or a
    distributor's users see them too, but only on the gates and programs they
    may see: a partner never learns of a program outside its segments.
    """

    gate_path: str | None = None
    program_path: str | None = None

    def visible_to(self, principal):
        queryset = super().visible_to(principal)
        user = principal_user(principal)
        if user is None or not user.is_authenticated or user.is_staff:
            return queryset
        if self.gate_path:
            queryset = queryset.filter(**{f"{self.gate_path}__in": Gate.objects.visible_to(principal)})
        if self.program_path:
            queryset = queryset.filter(**{f"{self.program_path}__in": Program.objects.visible_to(principal)})
        return queryset


class GateResultQuerySet(PartnerResultQuerySet):
    gate_path = "gate"


class ProgramResultQuerySet(PartnerResultQuerySet):
    program_path = "program"


class BenefitGrantQuerySet(PartnerResultQuerySet):
    program_path = "benefit__program"


class StaffOnlyQuerySet(PartnerScopedQuerySet):
    """The evaluation's own bookkeeping: staff see that of the partners they see, nobody else any."""

    def visible_to(self, principal):
        if not is_active_user(principal_user(principal)) or not principal_user(principal).is_staff:
            return self.none()
        return super().visible_to(principal)


class EvaluationRunQuerySet(PartnerScopedQuerySet):
    def visible_to(self, principal) -> "EvaluationRunQuerySet":
        """Staff see runs over every partner, and one-partner runs of the partners they see."""
        user = principal_user(principal)
        if user is None or not user.is_authenticated or not user.is_staff:
            return self.none()
        return self.filter(Q(partner__isnull=True) | Q(partner__in=Partner.objects.visible_to(principal)))


class GateVersionQuerySet(DefinitionQuerySet):
    program_path = "gate__program"


class GateVersion(CriteriaVersion):
    """The criteria of each version of a gate.

    A status measured under an earlier version keeps the values of that
    version's leaves; these rows say which leaf each value belongs to, so
    that until the partner is evaluated again its last measured values still
    read against the gate as it is now.
    """

    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="versions")
    effective_from = models.DateField(
        null=True, blank=True, help_text="The day a published version becomes the gate's criteria."
    )

    objects = GateVersionQuerySet.as_manager()

    class Meta:
        ordering = ["gate", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["gate", "version"], name="gate_version_unique"),
            models.UniqueConstraint(
                fields=["gate"],
                condition=Q(state="draft"),
                name="gate_version_one_draft",
                violation_error_message="This gate already has a draft.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gate_id} v{self.version}"

    @property
    def owner(self) -> Gate:
        return self.gate


class GateOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Not yet"
    BLOCKED = "blocked", "Waiting on a prerequisite"


class GateStatus(models.Model):
    """Where a partner stands on a gate, with every criterion's measured value.

    ``measures`` holds one value per leaf of the gate's criteria, in leaf
    order, as JSON (amounts as strings). It is rewritten only when a status or
    a value changes.
    """

    # Both foreign keys are served by the composite indexes below; separate
    # indexes would only slow the nightly writes.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="gate_statuses", db_index=False
    )
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="statuses", db_index=False)
    status = models.CharField(max_length=8, choices=GateOutcome.choices)
    measures = models.JSONField(default=list)
    gate_version = models.PositiveIntegerField(default=1)
    since = models.DateTimeField(default=timezone.now, help_text="When the status last changed.")
    updated_at = models.DateTimeField(default=timezone.now)

    objects = GateResultQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "gate statuses"
        constraints = [
            models.UniqueConstraint(fields=["partner", "gate"], name="gate_status_unique"),
        ]
        indexes = [models.Index(fields=["gate", "status"])]

    def __str__(self) -> str:
        return f"{self.partner.name} on {self.gate.name}: {self.get_status_display()}"


class EvaluationRun(models.Model):
    class Kind(models.TextChoices):
        FULL = "full", "All partners"
        PARTNER = "partner", "One partner"
        GATE = "gate", "One gate"

    class State(models.TextChoices):
        # Asked for (through the API) and not yet taken up by a worker.
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # The worker died (killed, out of memory, the machine restarted) and left
        # the run unfinished; the chunks it wrote stay, the next run converges.
        STALE = "stale", "Stopped without finishing"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The partner of a one-partner run.",
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING)
    as_of = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="The last sign of progress of a long run (the end of a chunk)."
    )
    partners_evaluated = models.PositiveIntegerField(default=0)
    partners_total = models.PositiveIntegerField(
        default=0, help_text="The partners the run covers, known once it starts."
    )
    statuses_changed = models.PositiveIntegerField(default=0)
    tiers_changed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # A full run is split into partner-id ranges, its chunks: run in order in
    # one process without a broker, or by Celery workers side by side.
    fanned_out = models.BooleanField(
        default=False, help_text="Its chunks were dispatched to the workers rather than run in one process."
    )
    chunk_bounds = models.JSONField(
        default=list, blank=True, help_text="The [first, last] partner ids of each chunk, in order."
    )
    chunks_finished = models.JSONField(
        default=list, blank=True, help_text="The positions in chunk_bounds of the chunks written."
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    chunk_seconds = models.FloatField(default=0, help_text="Time the chunks took, added over the chunks.")
    chunk_sql_seconds = models.FloatField(
        default=0, help_text="Of chunk_seconds, the time spent waiting on the database."
    )

    objects = EvaluationRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["partner", "started_at"])]
        constraints = [
            # Requests for a run of every partner join the one waiting.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(kind="full", state="queued"),
                name="evaluation_run_one_full_queued",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} evaluation of {_day(self.as_of)} ({self.get_state_display().lower()})"
        )

    @property
    def last_progress_at(self) -> datetime.datetime:
        return self.heartbeat_at or self.started_at

    @property
    def chunk_progress(self) -> str:
        """Chunks done out of total ("3 of 8 chunks"); empty for runs that are not split."""
        if not self.chunks_total:
            return ""
        return f"{self.chunks_done} of {self.chunks_total} chunks"

    @property
    def looks_stale(self) -> bool:
        """Still marked running, without a sign of progress for ``PRM_EVALUATION_STALE_MINUTES``."""
        limit = datetime.timedelta(minutes=settings.PRM_EVALUATION_STALE_MINUTES)
        return self.state == self.State.RUNNING and timezone.now() - self.last_progress_at > limit


class GateStatusChange(models.Model):
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="gate_changes", db_index=False
    )
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(max_length=8, choices=GateOutcome.choices, blank=True)
    to_status = models.CharField(max_length=8, choices=GateOutcome.choices)
    measures = models.JSONField(default=list)
    changed_at = models.DateTimeField(default=timezone.now)
    run = models.ForeignKey(EvaluationRun, null=True, blank=True, on_delete=models.SET_NULL)
    gate_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version of the gate the change was decided under."
    )

    objects = GateResultQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["partner", "-changed_at"]), models.Index(fields=["changed_at"])]

    def __str__(self) -> str:
        before = self.get_from_status_display() if self.from_status else "–"
        return f"{self.partner.name} on {self.gate.name}: {before} → {self.get_to_status_display()}"


@tracked(changes=["override_tier", "override_reason", "override_expires_on", "override_by"])
class PartnerTier(models.Model):
    """The tier a partner holds in a program.

    ``earned_tier`` follows the gates, held up by grace: when the partner stops
    qualifying, it keeps the tier until ``grace_until``, then drops to
    ``qualified_tier``. ``grace_until`` is ``grace_started_on`` plus the tier's
    grace days, so a change of the tier's grace moves the graces running. ``tier`` is what the partner holds: the override while
    one is in force, otherwise the earned tier. Benefits and incentives read
    ``tier``.
    """

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="tiers", db_index=False
    )
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="partner_tiers")
    tier = models.ForeignKey(
        "programs.Tier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    since = models.DateField(default=timezone.localdate)
    earned_tier = models.ForeignKey(
        "programs.Tier", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    qualified_tier = models.ForeignKey(
        "programs.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        help_text="The highest tier whose gate the partner passes today.",
    )
    grace_until = models.DateField(null=True, blank=True)
    grace_started_on = models.DateField(
        null=True,
        blank=True,
        help_text="The day the running grace started: it ends the tier's grace days after, as they are now.",
    )
    override_tier = models.ForeignKey(
        "programs.Tier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_reason = models.TextField(blank=True)
    override_expires_on = models.DateField(null=True, blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProgramResultQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "program"], name="partner_tier_unique"),
        ]

    def __str__(self) -> str:
        held = self.tier.name if self.tier is not None else "no tier"
        return f"{self.partner.name} in {self.program.name}: {held}"

    def override_in_force(self, day: datetime.date) -> bool:
        return self.override_tier_id is not None and (
            self.override_expires_on is None or self.override_expires_on >= day
        )

    @property
    def in_grace(self) -> bool:
        return self.grace_until is not None


class TierChangeReason(models.TextChoices):
    PROMOTED = "promoted", "Promoted"
    GRACE_STARTED = "grace_started", "Grace period started"
    GRACE_RECOVERED = "grace_recovered", "Recovered during grace"
    GRACE_CHANGED = "grace_changed", "Grace period changed"
    DEMOTED = "demoted", "Demoted after grace"
    OVERRIDE_SET = "override_set", "Override set"
    OVERRIDE_ENDED = "override_ended", "Override ended"


class TierChange(models.Model):
    """Every change of the tier a partner holds, or of its grace; ``effective_on`` dates it."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="tier_changes")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    from_tier = models.ForeignKey(
        "programs.Tier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_tier = models.ForeignKey(
        "programs.Tier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=16, choices=TierChangeReason.choices)
    effective_on = models.DateField()
    changed_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    run = models.ForeignKey(EvaluationRun, null=True, blank=True, on_delete=models.SET_NULL)

    objects = ProgramResultQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["partner", "program", "effective_on"])]

    def __str__(self) -> str:
        return f"{self.partner.name} in {self.program.name}: {self.get_reason_display()} on {_day(self.effective_on)}"


class BenefitGrant(models.Model):
    """A benefit a partner holds, from a tier or a passed gate, until it is revoked."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="benefit_grants")
    benefit = models.ForeignKey("programs.Benefit", on_delete=models.CASCADE, related_name="grants")
    via_tier = models.ForeignKey(
        "programs.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via_gate = models.ForeignKey(Gate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = BenefitGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "benefit"],
                condition=Q(revoked_at__isnull=True),
                name="benefit_grant_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.benefit.name} for {self.partner.name}"

    def clean(self) -> None:
        if self.revoked_at and self.revoked_at < self.granted_at:
            raise ValidationError({"revoked_at": "A grant cannot end before it starts."})


class SegmentMembership(models.Model):
    """A partner in a segment, as the evaluation last decided.

    Segments are the vendor's targeting: staff see the memberships of the
    partners they see, partners see only the programs their segments open.
    """

    segment = models.ForeignKey("programs.Segment", on_delete=models.CASCADE, related_name="memberships")
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    since = models.DateTimeField(default=timezone.now)
    segment_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version of the segment the membership was last decided under."
    )

    objects = StaffOnlyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "partner"], name="segment_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.partner.name} in {self.segment.name}"


class MeasureDigest(models.Model):
    """A digest of everything a partner's gate results were last decided from.

    The nightly run reads every partner's facts; a partner whose digest has
    not moved since (same facts in every window, same attributes, same
    definitions) keeps its results, and only partners that moved are decided
    again.
    """

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    digest = models.CharField(max_length=32)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = StaffOnlyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Inputs of {self.partner.name}: {self.digest}"


def prerequisite_cycle(gate, prerequisites) -> list[str] | None:
    """The names along the cycle that giving ``gate`` these prerequisites would close, if any."""
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
        stack.extend((following, [*path, following]) for following in edges.get(node, []))
    return None


track_links(Gate.prerequisites.through, name="GatePrerequisiteLinkEvent")
track_links(Gate.unlocks_benefits.through, name="GateBenefitLinkEvent")
