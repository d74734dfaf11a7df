"""Inbox items, each user's delivery preferences, announcements and the digests sent.

An item belongs to one user and names what it is about (a partner, a
program, an object's type and id). ``visible_to`` shows a user only their
own items about what the door still lets them see: a partner user who moved
organisation, or a manager whose coverage shrank, no longer sees items about
partners they cannot see.
"""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.door import DoorQuerySet, is_active_user, principal_token, principal_user
from history.tracking import track_links, tracked
from partners.models import Partner
from programs.models import Program, Segment


class InboxKind(models.TextChoices):
    TIER_CHANGE = "tier_change", "Tier changes"
    AT_RISK = "at_risk", "At-risk warnings and grace periods"
    APPROVAL = "approval", "Awaiting your approval"
    MDF_CLAIM_DUE = "mdf_claim_due", "MDF claims due"
    CERTIFICATION_EXPIRING = "certification_expiring", "Certifications expiring"
    ANNOUNCEMENT = "announcement", "Announcements"
    APPLICATION = "application", "Applications to become a partner"


class Delivery(models.TextChoices):
    IN_APP = "in_app", "In the portal only"
    IMMEDIATE = "immediate", "An email at once"
    DIGEST = "digest", "A daily digest email"


class InboxItemQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "InboxItemQuerySet":
        """The principal's own items about partners and programs the door lets them see.

        An inbox is personal: integration tokens see none, and nobody sees
        another user's items, staff included.
        """
        user = principal_user(principal)
        if principal_token(principal) is not None or not is_active_user(user):
            return self.none()
        return self.filter(
            Q(user=user),
            Q(partner__isnull=True) | Q(partner__in=Partner.objects.visible_to(user)),
            Q(program__isnull=True) | Q(program__in=Program.objects.visible_to(user)),
        )

    def _actionable_read(self, principal) -> "InboxItemQuerySet":
        """Mark read: the owner, on the items they see."""
        return self.visible_to(principal)

    def unread(self) -> "InboxItemQuerySet":
        return self.filter(read_at__isnull=True)


class InboxItem(models.Model):
    """One thing a user should know of or act on, with a link to where they act."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_items")
    kind = models.CharField(max_length=24, choices=InboxKind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True, help_text="Where the user acts, a path in the site.")
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="inbox_items"
    )
    program = models.ForeignKey(
        Program, null=True, blank=True, on_delete=models.CASCADE, related_name="inbox_items"
    )
    subject_type = models.CharField(max_length=40, blank=True, help_text="e.g. deals.deal")
    subject_id = models.BigIntegerField(null=True, blank=True)
    # What makes an item the same item when its source is read twice (an event id, a
    # certification and its expiry): one item per user and key.
    dedupe_key = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="Sent alone, or in a digest.")

    objects = InboxItemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"], name="inbox_item_unique_per_user"),
        ]
        indexes = [
            # The bell: a user's unread items.
            models.Index(
                fields=["user", "created_at"], name="inbox_unread", condition=Q(read_at__isnull=True)
            ),
            models.Index(fields=["user", "-created_at", "-id"], name="inbox_user_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class InboxPreference(models.Model):
    """How a user wants one kind of item delivered; no row means in the portal only."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_preferences"
    )
    kind = models.CharField(max_length=24, choices=InboxKind.choices)
    delivery = models.CharField(max_length=12, choices=Delivery.choices, default=Delivery.IN_APP)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="inbox_preference_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} by {self.delivery}"


class InboxDigest(models.Model):
    """One user's digest of one day: claimed before it is sent, so a second run sends nothing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest_on = models.DateField()
    items = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-digest_on"]
        constraints = [
            models.UniqueConstraint(fields=["user", "digest_on"], name="inbox_digest_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.digest_on}"


class AnnouncementQuerySet(DoorQuerySet):
    def visible_to(self, principal) -> "AnnouncementQuerySet":
        """Staff see every announcement; a partner or distributor user the published ones addressed
        to a partner it sees (``addressed_to``)."""
        user = principal_user(principal)
        if not is_active_user(user):
            return self.none()
        if user.is_staff and principal_token(principal) is None:
            return self.all()
        return self.filter(published_at__isnull=False, published_at__lte=timezone.now()).filter(
            addressed_to(Partner.objects.visible_to(principal))
        )

    def _actionable_read(self, principal) -> "AnnouncementQuerySet":
        """Mark as read: a partner or distributor user, on the announcements it sees."""
        user = principal_user(principal)
        if principal_token(principal) is not None or user.is_staff:
            return self.none()
        return self.visible_to(principal)

    def _actionable_publish(self, principal) -> "AnnouncementQuerySet":
        """Publish: staff holding ``inbox.change_announcement``."""
        return self._with_model_permission(principal, "change")


def addressed_to(partners) -> Q:
    """The one rule of an announcement's audience, for announcements addressed to any of
    ``partners`` (a queryset): one with neither programs nor segments speaks to every partner;
    otherwise to the partners in one of its segments or to whom one of its programs is open
    (``program_open_to``, the programs' own rule)."""
    programs = Announcement.programs.through.objects.filter(announcement=OuterRef("pk"))
    segments = Announcement.segments.through.objects.filter(announcement=OuterRef("pk"))
    open_program = programs.filter(
        Q(program__is_active=True)
        & (
            Q(program__segment__isnull=True)
            | Q(program__segment__in=Segment.objects.filter(memberships__partner__in=partners).values("pk"))
        )
    )
    member = segments.filter(segment__memberships__partner__in=partners)
    everyone = ~Exists(programs) & ~Exists(segments) & Exists(partners)
    return Q(everyone) | Q(Exists(open_program)) | Q(Exists(member))


@tracked()
class Announcement(models.Model):
    """News from the vendor to partners: every partner, or those of some programs or segments."""

    title = models.CharField(max_length=200)
    body = models.TextField()
    programs = models.ManyToManyField(
        Program,
        blank=True,
        related_name="announcements",
        help_text="Partners to whom one of these programs is open see it.",
    )
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="announcements",
        help_text="Partners in one of these segments see it. With neither programs nor segments, every partner.",
    )
    send_email = models.BooleanField(
        default=False,
        help_text="Also e-mail it to every user of its audience when it is published, whatever their "
        "inbox preferences (each once).",
    )
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When partners see it; empty while a draft."
    )
    delivered_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When its inbox items were written."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AnnouncementQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title


track_links(Announcement.programs.through, name="AnnouncementProgramEvent")
track_links(Announcement.segments.through, name="AnnouncementSegmentEvent")
