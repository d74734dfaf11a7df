"""The ledger of what partners earn: immutable entries whose state only moves forward."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.money import AmountField
from partners.models import PartnerScopedQuerySet

# The unit of engagement points in the ledger's currency column; points are
# whole numbers and never paid out, only redeemed for rewards.
POINTS = "PTS"


class LedgerTransitionQuerySet(PartnerScopedQuerySet):
    partner_path = "entry__partner"


class EntryState(models.TextChoices):
    ACCRUED = "accrued", "Accrued"
    PAYABLE = "payable", "Payable"
    PAID = "paid", "Paid"
    REVERSED = "reversed", "Reversed"


# The moves an entry's state may make; everything else is refused.
STATE_MOVES = {
    (EntryState.ACCRUED, EntryState.PAYABLE),
    (EntryState.PAYABLE, EntryState.PAID),
    (EntryState.ACCRUED, EntryState.REVERSED),
    (EntryState.PAYABLE, EntryState.REVERSED),
}


class EntryType(models.TextChoices):
    EARNING = "earning", "Earning"
    ADJUSTMENT = "adjustment", "Adjustment"
    REVERSAL = "reversal", "Reversal"


class SourceType(models.TextChoices):
    DEAL = "deal", "Deal"
    ACTIVITY = "activity", "Engagement activity"
    CERTIFICATION = "certification", "Certification"
    PERIOD = "period", "Period's sales"
    REDEMPTION = "redemption", "Reward redemption"


class Component(models.TextChoices):
    EARNING = "earning", "Earning"
    SIGNING = "signing", "Paid on signing"
    HELD = "held", "Held until activation"
    POINTS = "points", "Points"
    REWARD = "reward", "Reward"


class ImmutableEntryError(Exception):
    """Something tried to change or delete what a ledger entry says."""


# The only columns a service may update on a written entry.
MUTABLE_ENTRY_FIELDS = frozenset({"state", "state_changed_at", "payout", "payout_id"})


class LedgerEntryQuerySet(PartnerScopedQuerySet):
    """The one door: the entries of the partners the user may see (``Partner.visible_to``)."""

    def money(self) -> "LedgerEntryQuerySet":
        return self.exclude(currency=POINTS)

    def update(self, **kwargs):
        forbidden = set(kwargs) - MUTABLE_ENTRY_FIELDS
        if forbidden:
            raise ImmutableEntryError(
                f"Ledger entries are immutable ({', '.join(sorted(forbidden))}): write a reversing or "
                "adjusting entry instead."
            )
        return super().update(**kwargs)

    def delete(self):
        raise ImmutableEntryError("Ledger entries are never deleted: write a reversing entry instead.")


class LedgerEntry(models.Model):
    """One immutable earning, reversal or adjustment of a partner under a rule, for one source."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="ledger_entries")
    rule = models.ForeignKey("incentives.IncentiveRule", on_delete=models.PROTECT, related_name="entries")
    source_type = models.CharField(max_length=16, choices=SourceType.choices)
    source_id = models.CharField(
        max_length=40, help_text="The deal, activity or redemption id, or the period."
    )
    component = models.CharField(max_length=8, choices=Component.choices, default=Component.EARNING)
    revision = models.PositiveIntegerField(
        default=0, help_text="0 for the first entry of a key; each correction takes the next number."
    )
    entry_type = models.CharField(max_length=12, choices=EntryType.choices, default=EntryType.EARNING)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    amount = AmountField()
    currency = models.CharField(max_length=3, help_text="An ISO 4217 code, or PTS for engagement points.")
    event_on = models.DateField(help_text="The day of the fact that earned: close date, activity date…")
    period = models.CharField(max_length=7, help_text="The statement quarter the entry appears in.")
    held_until = models.DateField(
        null=True, blank=True, help_text="Held parts: the last day the customer may activate."
    )
    tier = models.ForeignKey(
        "programs.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The tier the partner held in the rule's program on the event day.",
    )
    deal = models.ForeignKey("deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    description = models.CharField(max_length=300, blank=True)
    basis = models.JSONField(default=dict, blank=True, help_text="How the amount was worked out.")
    posted_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=8, choices=EntryState.choices, default=EntryState.ACCRUED)
    state_changed_at = models.DateTimeField(default=timezone.now)
    payout = models.ForeignKey(
        "incentives.Payout", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-posted_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "rule", "source_type", "source_id", "component", "revision"],
                name="ledger_entry_unique_key",
            ),
            models.CheckConstraint(
                name="ledger_entry_reversal_points_back",
                condition=~Q(entry_type="reversal") | Q(reverses__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "period"]),
            models.Index(fields=["partner", "event_on"]),
            models.Index(fields=["rule", "period"]),
            models.Index(fields=["source_type", "source_id"]),
            models.Index(fields=["state", "period"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_entry_type_display()} {self.amount} {self.currency} – {self.description}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            fields = set(kwargs.get("update_fields") or ())
            if not fields or fields - MUTABLE_ENTRY_FIELDS:
                raise ImmutableEntryError(
                    "Ledger entries are immutable: write a reversing or adjusting entry instead."
                )
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableEntryError("Ledger entries are never deleted: write a reversing entry instead.")

    @property
    def key(self) -> tuple:
        return (self.partner_id, self.rule_id, self.source_type, self.source_id, self.component)


class LedgerTransition(models.Model):
    """The append-only history of every entry's state."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=8, choices=EntryState.choices)
    to_state = models.CharField(max_length=8, choices=EntryState.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)

    objects = LedgerTransitionQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["entry", "at"])]

    def __str__(self) -> str:
        return f"{self.get_from_state_display()} → {self.get_to_state_display()} on {self.at:%d %b %Y %H:%M}"
