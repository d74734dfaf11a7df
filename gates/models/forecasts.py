"""What the at-risk forecast concludes: a row per partner and gate, and the episodes at risk."""

import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from gates.models.evaluation import (
    Gate,
    GateResultQuerySet,
    _day,
)


class GateForecast(models.Model):
    """Whether a partner passing a gate today would stop passing it within the gate's horizon.

    One row per partner and gate, written by ``gates.forecast`` when a
    partner first becomes at risk on the gate and kept (``at_risk`` false)
    once it recovers. ``fails_on`` is the first day the gate would fail if
    nothing new arrived; ``criterion`` the criterion that would fail then,
    ``shortfall`` what it would lack and ``fix`` the cheapest remedy the
    facts name. ``renewals`` lists the certifications whose expiry causes it
    (person, name, certification, expiry), for the team page.

    When the gate unlocks the tier the partner earned, the row also says what
    the tier engine would do: ``tier_lost_on`` is the first day the partner
    would no longer hold the tier (after the tier's grace, and not before an
    override holding it ends, ``override_until``). A tier held by an override
    that outlasts the horizon is not at risk. A partner already keeping the
    tier in grace has a row too (``at_risk`` false, ``grace_until`` its last
    day), so the forecast shows every tier about to go.
    """

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="gate_forecasts", db_index=False
    )
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="forecasts")
    at_risk = models.BooleanField(default=False)
    fails_on = models.DateField(null=True, blank=True)
    criterion_path = models.CharField(max_length=200, blank=True)
    criterion = models.TextField(blank=True)
    shortfall = models.TextField(blank=True)
    fix = models.TextField(blank=True)
    renewals = models.JSONField(default=list, blank=True)
    tier_lost_on = models.DateField(
        null=True,
        blank=True,
        help_text="The first day the partner would no longer hold the gate's tier, after grace and any override.",
    )
    override_until = models.DateField(
        null=True, blank=True, help_text="The last day of the override holding the tier, when one does."
    )
    grace_until = models.DateField(
        null=True, blank=True, help_text="Set while the partner keeps the gate's tier in grace: its last day."
    )
    horizon_days = models.PositiveSmallIntegerField(default=60)
    as_of = models.DateField(help_text="The day the forecast was made.")
    episode_started_on = models.DateField(null=True, blank=True)
    notified_fails_on = models.DateField(
        null=True, blank=True, help_text="The failing day last notified in the running episode."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = GateResultQuerySet.as_manager()

    class Meta:
        ordering = ["fails_on", "partner_id", "gate_id"]
        constraints = [models.UniqueConstraint(fields=["partner", "gate"], name="gate_forecast_unique")]
        indexes = [models.Index(fields=["at_risk", "fails_on"])]

    def __str__(self) -> str:
        if self.at_risk and self.fails_on:
            return f"{self.partner.name} on {self.gate.name}: at risk on {_day(self.fails_on)}"
        if self.grace_until:
            return f"{self.partner.name} on {self.gate.name}: in grace until {_day(self.grace_until)}"
        return f"{self.partner.name} on {self.gate.name}: not at risk"

    @property
    def in_grace(self) -> bool:
        return self.grace_until is not None

    @property
    def tier_kept_until(self) -> datetime.date | None:
        """The last day the partner would hold the gate's tier."""
        return self.tier_lost_on - datetime.timedelta(days=1) if self.tier_lost_on else None


class RiskEpisodeEnd(models.TextChoices):
    RECOVERED = "recovered", "Recovered"
    FAILED = "failed", "The gate failed"
    OVERRIDDEN = "overridden", "An override holds the tier"


class GateRiskEpisode(models.Model):
    """One stretch of time during which a partner was at risk on a gate: started, notified, ended."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="gate_risk_episodes", db_index=False
    )
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="risk_episodes")
    started_on = models.DateField()
    first_fails_on = models.DateField(help_text="The failing day forecast when the episode started.")
    fails_on = models.DateField(help_text="The failing day last forecast.")
    notifications = models.PositiveSmallIntegerField(default=0)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=10, choices=RiskEpisodeEnd.choices, blank=True)

    objects = GateResultQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-id"]
        indexes = [models.Index(fields=["partner", "gate", "started_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "gate"],
                condition=Q(ended_on__isnull=True),
                name="gate_risk_episode_one_open",
            )
        ]

    def __str__(self) -> str:
        ended = f", ended {_day(self.ended_on)}" if self.ended_on else ""
        return f"{self.partner.name} at risk on {self.gate.name} from {_day(self.started_on)}{ended}"
