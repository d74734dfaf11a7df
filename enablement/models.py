"""Enablement: the catalogue of courses and learning paths, and what partners' people do with it.

Definitions (courses, their modules and quizzes, learning paths) are the vendor's: staff see them
all, a partner's people the courses of the programs they see. Facts (enrolments, quiz attempts,
completions) belong to a person and so to a partner, and are read through the same door as
certifications: a partner admin sees the team's, other partner users their own.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from core.door import DoorQuerySet, is_active_user, principal_user
from history.tracking import track_links, tracked
from partners.models import (
    ActivityType,
    CertificationQuerySet,
    CertificationTrack,
    CertificationType,
    Membership,
    MembershipRole,
    Partner,
    PartnerScopedQuerySet,
    PartnerType,
    Person,
    ProductLine,
    Region,
)
from programs.models import Benefit, BenefitKind, Program, Segment, Tier


def catalogue_open_to(model: type[models.Model], principal) -> Q:
    """The one rule of the catalogue's visibility, for courses and learning paths alike.

    A definition limited to programs, tiers or segments is open to a partner when, for each kind of
    limit it has, the partner meets one of them: it sees one of the programs (``Program``'s door,
    which carries the programs' segments), holds one of the tiers or a higher tier of the same
    program, or is a member of one of the segments. No limit of a kind means no condition of it.
    The partners are those the principal sees (``Partner``'s door).
    """
    owner = str(model._meta.model_name)
    programs = Program.objects.visible_to(principal)
    partners = Partner.objects.visible_to(principal)
    program_links = model.programs.through.objects.filter(**{owner: OuterRef("pk")})  # type: ignore[attr-defined]
    tier_links = model.tiers.through.objects.filter(**{owner: OuterRef("pk")})  # type: ignore[attr-defined]
    segment_links = model.segments.through.objects.filter(**{owner: OuterRef("pk")})  # type: ignore[attr-defined]
    # The tier held is the gates' (``PartnerTier``, overrides included), read by its relation
    # names: enablement sits below gates and does not import them.
    tier_held = tier_links.filter(
        tier__program__in=programs,
        tier__program__partner_tiers__partner__in=partners,
        tier__program__partner_tiers__tier__rank__gte=F("tier__rank"),
    )
    member = segment_links.filter(segment__memberships__partner__in=partners)
    return (
        (~Exists(program_links) | Exists(program_links.filter(program__in=programs)))
        & (~Exists(tier_links) | Exists(tier_held))
        & (~Exists(segment_links) | Exists(member))
    )


class CatalogueQuerySet(DoorQuerySet):
    """Definitions of the catalogue, reached through ``course_path``: staff see them all; anyone else
    the active ones open to every partner or to a program they see (programs carry the segments)."""

    course_path = ""

    def _prefix(self) -> str:
        return f"{self.course_path}__" if self.course_path else ""

    def visible_to(self, principal):
        user = principal_user(principal)
        if not is_active_user(user):
            return self.none()
        if user.is_staff:
            return self.all()
        if Membership.for_user(user) is None:
            return self.none()
        prefix = self._prefix()
        open_courses = Course.objects.filter(is_active=True).filter(catalogue_open_to(Course, principal))
        return self.filter(**{f"{prefix}pk__in": open_courses.values("pk")})

    def _actionable_manage(self, principal):
        """Change the catalogue: staff holding the model's change permission."""
        return self._with_model_permission(principal, "change")


class CourseQuerySet(CatalogueQuerySet):
    def _actionable_enrol(self, principal):
        """Enrol in a course: the courses a user sees, for a user who is an active person of their partner."""
        user = principal_user(principal)
        membership = Membership.for_user(user)
        if membership is None or membership.partner_id is None:
            return self.none()
        learner = Person.objects.filter(user=user, partner_id=membership.partner_id, is_active=True)
        return self.visible_to(principal).filter(Exists(learner))


@tracked()
class Course(models.Model):
    title = models.CharField(max_length=200)
    code = models.SlugField(
        max_length=64,
        blank=True,
        help_text="The code gate criteria name the course by (course_completions); empty if none does.",
    )
    description = models.TextField(blank=True)
    track = models.CharField(max_length=16, choices=CertificationTrack.choices)
    product_lines = models.ManyToManyField(ProductLine, blank=True, related_name="courses")
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="How long the course takes, in minutes."
    )
    language = models.CharField(max_length=16, default="en", help_text="A language code, such as en or fr.")
    programs = models.ManyToManyField(
        Program,
        blank=True,
        related_name="courses",
        help_text="Only partners seeing one of these programs see the course; empty means every partner.",
    )
    tiers = models.ManyToManyField(
        Tier,
        blank=True,
        related_name="courses",
        help_text="Only partners holding one of these tiers, or a higher one of its program, see the "
        "course; empty means any tier.",
    )
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="courses",
        help_text="Only partners in one of these segments see the course; empty means any partner.",
    )
    xapi_activity_id = models.CharField(
        max_length=500,
        blank=True,
        help_text="The activity id an external LMS sends in its xAPI statements for this course.",
    )
    completion_activity_type = models.ForeignKey(
        ActivityType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Completing the course records an engagement activity of this type, which the "
        "points rules and activity SPIFs price; empty for none.",
    )
    completion_points = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The activity's points; empty for the activity type's default points.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["xapi_activity_id"],
                condition=~Q(xapi_activity_id=""),
                name="course_unique_xapi_activity_id",
            ),
            models.UniqueConstraint(fields=["code"], condition=~Q(code=""), name="course_unique_code"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.completion_points is not None and self.completion_activity_type_id is None:
            raise ValidationError(
                {"completion_points": "Points need an activity type for the completion to record."}
            )

    @property
    def learning_hours(self) -> Decimal:
        return (Decimal(self.duration_minutes) / 60).quantize(Decimal("0.01"))


track_links(Course.product_lines.through, name="CourseProductLineEvent")
track_links(Course.programs.through, name="CourseProgramEvent")
track_links(Course.tiers.through, name="CourseTierEvent")
track_links(Course.segments.through, name="CourseSegmentEvent")


class ModuleQuerySet(CatalogueQuerySet):
    course_path = "course"


@tracked()
class Module(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True)
    links = models.TextField(blank=True, help_text="One address a line.")
    order = models.PositiveSmallIntegerField(default=0)

    objects = ModuleQuerySet.as_manager()

    class Meta:
        ordering = ["course", "order", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def link_list(self) -> list[str]:
        return [line.strip() for line in self.links.splitlines() if line.strip()]


class QuizQuerySet(CatalogueQuerySet):
    course_path = "course"


@tracked()
class Quiz(models.Model):
    """A course's optional quiz: passing it completes the course."""

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="quiz")
    pass_mark_percent = models.PositiveSmallIntegerField(
        default=70, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)], help_text="Attempts a person may make."
    )

    objects = QuizQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "quizzes"
        constraints = [
            models.CheckConstraint(
                name="quiz_pass_mark_is_a_percentage",
                condition=Q(pass_mark_percent__gte=1, pass_mark_percent__lte=100),
            ),
            models.CheckConstraint(name="quiz_allows_an_attempt", condition=Q(max_attempts__gte=1)),
        ]

    def __str__(self) -> str:
        return f"Quiz – {self.course}"


class QuestionQuerySet(CatalogueQuerySet):
    course_path = "quiz__course"


@tracked()
class Question(models.Model):
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField()
    order = models.PositiveSmallIntegerField(default=0)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["quiz", "order", "pk"]

    def __str__(self) -> str:
        return self.text[:80]


class ChoiceQuerySet(CatalogueQuerySet):
    course_path = "question__quiz__course"


@tracked()
class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=500)
    is_correct = models.BooleanField(default=False)

    objects = ChoiceQuerySet.as_manager()

    class Meta:
        ordering = ["question", "pk"]

    def __str__(self) -> str:
        return self.text


class LearningPathQuerySet(DoorQuerySet):
    """Staff see every path; anyone else the active paths open to them (``catalogue_open_to``)
    whose courses they all see."""

    def visible_to(self, principal):
        user = principal_user(principal)
        if not is_active_user(user):
            return self.none()
        if user.is_staff:
            return self.all()
        if Membership.for_user(user) is None:
            return self.none()
        hidden = Course.objects.exclude(pk__in=Course.objects.visible_to(principal).values("pk"))
        return (
            self.filter(is_active=True)
            .filter(catalogue_open_to(LearningPath, principal))
            .exclude(steps__course__in=hidden.values("pk"))
        )

    def _actionable_manage(self, principal):
        return self._with_model_permission(principal, "change")


@tracked()
class LearningPath(models.Model):
    """Courses in order; completing them all may issue a certification, valid for some months.

    A renewal path renews a certification its person held before (a lapsed one), and is usually
    shorter than the path that first issued it.
    """

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    certification_type = models.ForeignKey(
        CertificationType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="learning_paths",
        help_text="The certification completing the path issues; empty for none.",
    )
    validity_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Months the issued certification stays valid; empty for the certification type's validity.",
    )
    is_renewal = models.BooleanField(
        default=False,
        help_text="Only renews the certification for people who held it before.",
    )
    completion_activity_type = models.ForeignKey(
        ActivityType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Completing every course of the path records an engagement activity of this type, "
        "once per person, which the points rules and activity SPIFs price; empty for none.",
    )
    completion_points = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The activity's points; empty for the activity type's default points.",
    )
    is_active = models.BooleanField(default=True)
    courses = models.ManyToManyField(Course, through="PathStep", related_name="learning_paths")
    programs = models.ManyToManyField(
        Program,
        blank=True,
        related_name="learning_paths",
        help_text="Only partners seeing one of these programs see the path; empty means every partner.",
    )
    tiers = models.ManyToManyField(
        Tier,
        blank=True,
        related_name="learning_paths",
        help_text="Only partners holding one of these tiers, or a higher one of its program, see the "
        "path; empty means any tier.",
    )
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="learning_paths",
        help_text="Only partners in one of these segments see the path; empty means any partner.",
    )

    objects = LearningPathQuerySet.as_manager()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.is_renewal and self.certification_type_id is None:
            raise ValidationError({"is_renewal": "A renewal path renews a certification: choose its type."})
        if self.validity_months is not None and self.certification_type_id is None:
            raise ValidationError({"validity_months": "A validity needs a certification type to issue."})
        if self.completion_points is not None and self.completion_activity_type_id is None:
            raise ValidationError(
                {"completion_points": "Points need an activity type for the path's completion to record."}
            )

    @property
    def months_valid(self) -> int | None:
        if self.validity_months is not None:
            return self.validity_months
        return self.certification_type.validity_months if self.certification_type else None


track_links(LearningPath.programs.through, name="LearningPathProgramEvent")
track_links(LearningPath.tiers.through, name="LearningPathTierEvent")
track_links(LearningPath.segments.through, name="LearningPathSegmentEvent")


class PathStepQuerySet(DoorQuerySet):
    def visible_to(self, principal):
        return self.filter(path__in=LearningPath.objects.visible_to(principal))

    def _actionable_manage(self, principal):
        return self._with_model_permission(principal, "change")


@tracked()
class PathStep(models.Model):
    path = models.ForeignKey(LearningPath, on_delete=models.CASCADE, related_name="steps")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="path_steps")
    order = models.PositiveSmallIntegerField(default=0)

    objects = PathStepQuerySet.as_manager()

    class Meta:
        ordering = ["path", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["path", "course"], name="path_step_unique_course"),
        ]

    def __str__(self) -> str:
        return f"{self.path} – {self.order}. {self.course}"


class LearnerFactQuerySet(CertificationQuerySet):
    """A person's learning (enrolments, attempts, completions): read like certifications, a partner
    admin sees the team's and other partner users their own."""

    partner_path = "person__partner"

    def _actionable_learn(self, principal):
        """Act on one's own learning (work through modules, take the quiz): the person's own user."""
        user = principal_user(principal)
        return self.visible_to(principal).filter(person__user=user)

    def _actionable_grant_attempts(self, principal):
        """Grant a person extra quiz attempts: a partner admin for the team, or staff holding
        ``enablement.add_quizattemptgrant`` for the partners they cover."""
        user = principal_user(principal)
        if user.is_staff:
            if not user.has_perm("enablement.add_quizattemptgrant"):
                return self.none()
            return self.visible_to(principal)
        membership = Membership.for_user(user)
        if membership is None or membership.partner_id is None or membership.role != MembershipRole.ADMIN:
            return self.none()
        return self.visible_to(principal).filter(**{self.partner_path: membership.partner_id})


@tracked()
class Enrolment(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="enrolments")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="enrolments")
    enrolled_at = models.DateTimeField(auto_now_add=True)
    modules_done = models.ManyToManyField(Module, blank=True, related_name="done_in_enrolments")

    objects = LearnerFactQuerySet.as_manager()

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [
            models.UniqueConstraint(fields=["person", "course"], name="enrolment_unique_course"),
        ]

    def __str__(self) -> str:
        return f"{self.person} – {self.course}"


track_links(Enrolment.modules_done.through, name="EnrolmentModuleEvent")


@tracked()
class QuizAttempt(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="quiz_attempts")
    quiz = models.ForeignKey(Quiz, on_delete=models.PROTECT, related_name="attempts")
    score_percent = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    passed = models.BooleanField()
    made_at = models.DateTimeField(auto_now_add=True)

    objects = LearnerFactQuerySet.as_manager()

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"{self.person} – {self.quiz}: {self.score_percent}%"


@tracked()
class QuizAttemptGrant(models.Model):
    """Extra attempts at a quiz for one person, granted by their partner admin or a channel manager."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="quiz_attempt_grants")
    quiz = models.ForeignKey(Quiz, on_delete=models.PROTECT, related_name="attempt_grants")
    extra_attempts = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    reason = models.CharField(max_length=300, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    objects = LearnerFactQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at"]
        constraints = [
            models.CheckConstraint(
                name="quiz_attempt_grant_between_one_and_ten",
                condition=Q(extra_attempts__gte=1, extra_attempts__lte=10),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} – {self.quiz}: +{self.extra_attempts}"


class CompletionSource(models.TextChoices):
    PORTAL = "portal", "Portal"
    XAPI = "xapi", "External LMS (xAPI)"
    MANUAL = "manual", "Manual"


@tracked()
class Completion(models.Model):
    """A person completed a course, once; completions from an LMS carry the xAPI statement's id."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="completions")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="completions")
    completed_at = models.DateTimeField()
    score_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    source = models.CharField(
        max_length=16, choices=CompletionSource.choices, default=CompletionSource.MANUAL
    )
    statement_id = models.UUIDField(null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LearnerFactQuerySet.as_manager()

    class Meta:
        ordering = ["-completed_at"]
        # A course may be completed again (a renewal, a new version); statements count once.
        indexes = [models.Index(fields=["course", "completed_at"]), models.Index(fields=["person", "course"])]

    def __str__(self) -> str:
        return f"{self.person} completed {self.course}"


# --- the content library ------------------------------------------------------------------------


class AssetKind(models.TextChoices):
    FILE = "file", "File"
    LINK = "link", "Link"


class AssetCategory(models.TextChoices):
    SALES_DECK = "sales_deck", "Sales deck"
    BATTLE_CARD = "battle_card", "Battle card"
    CAMPAIGN_KIT = "campaign_kit", "Co-branded campaign kit"
    DATASHEET = "datasheet", "Datasheet"
    CASE_STUDY = "case_study", "Case study"
    OTHER = "other", "Other"


def asset_upload_to(instance: "ContentAsset", filename: str) -> str:
    # A random name: the stored path never carries what the uploader typed and cannot be guessed;
    # the original name is kept in ``file_name`` for the download's Content-Disposition.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"library/{uuid.uuid4().hex}.{extension}"


def partner_holds_content_access(partner_id: int, programs: models.QuerySet) -> Q:
    """Whether the partner holds an active "content access" benefit of one of ``programs`` (those
    it sees), as a condition on assets: of one of the asset's programs when the asset is limited
    to programs, of any of them otherwise.

    The grants are the gates' (``BenefitGrant``), read by their relation names: enablement sits
    below gates and does not import them.
    """
    held = Benefit.objects.filter(
        kind=BenefitKind.CONTENT,
        program__in=programs,
        grants__partner_id=partner_id,
        grants__revoked_at__isnull=True,
    )
    through = ContentAsset.programs.through.objects
    program_links = through.filter(contentasset=OuterRef("pk"))
    # One level deeper, the asset is the outer query's outer row.
    of_asset_programs = held.filter(
        program__in=through.filter(contentasset=OuterRef(OuterRef("pk"))).values("program_id")
    )
    return Q(~Exists(program_links) & Exists(held)) | Q(Exists(of_asset_programs))


class ContentAssetQuerySet(DoorQuerySet):
    """The library's assets: staff see them all (they are the vendor's); a partner's people the
    active, published ones open to their partner (``open_to_partner``); distributors none."""

    def visible_to(self, principal):
        user = principal_user(principal)
        if not is_active_user(user):
            return self.none()
        if user.is_staff:
            return self.all()
        membership = Membership.for_user(user)
        if membership is None or membership.partner is None:
            return self.none()
        return self.open_to_partner(principal, membership.partner)

    def open_to_partner(self, principal, partner: Partner):
        """The assets open to ``partner``, as the one rule of the library states it.

        An asset is open when it is active and published, and for each kind of limit it has the
        partner meets one: programs, tiers and segments as the catalogue has them
        (``catalogue_open_to``), one of its partner types, one of its regions; and, when it asks
        for the "content access" benefit, the partner holds one (of one of its programs, when it is
        limited to programs).
        """
        now = timezone.now()
        return (
            self.filter(is_active=True)
            .filter(Q(published_from__isnull=True) | Q(published_from__lte=now))
            .filter(catalogue_open_to(ContentAsset, principal))
            # The lists hold codes of fixed choices: the quoted code is found in the JSON text, as
            # every database reads it (SQLite has no JSON containment).
            .filter(Q(partner_types=[]) | Q(partner_types__icontains=f'"{partner.partner_type}"'))
            .filter(Q(regions=[]) | Q(regions__icontains=f'"{partner.region}"'))
            .filter(
                Q(needs_content_access=False)
                | partner_holds_content_access(partner.pk, Program.objects.visible_to(principal))
            )
        )

    def _actionable_download(self, principal):
        """Download an asset (and count it for the partner): a partner's people, of what they see."""
        user = principal_user(principal)
        membership = Membership.for_user(user)
        if membership is None or membership.partner_id is None:
            return self.none()
        return self.visible_to(principal)

    def _actionable_manage(self, principal):
        return self._with_model_permission(principal, "change")


@tracked()
class ContentAsset(models.Model):
    """A file or a link of the content library (a sales deck, a battle card, a campaign kit).

    Files are stored under a random name and served by the application to those who may see the
    asset (``ContentAsset.objects.visible_to``), never from a public address.
    """

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=16, choices=AssetCategory.choices, default=AssetCategory.OTHER)
    kind = models.CharField(max_length=8, choices=AssetKind.choices, default=AssetKind.FILE)
    file = models.FileField(upload_to=asset_upload_to, blank=True, max_length=200)
    file_name = models.CharField(max_length=200, blank=True, help_text="The name the file downloads under.")
    file_content_type = models.CharField(max_length=100, blank=True, editable=False)
    file_size = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    url = models.URLField(max_length=500, blank=True, help_text="The address a link asset opens.")
    tags = models.CharField(
        max_length=300,
        blank=True,
        help_text="Words to search by, separated by commas (competitor, pricing...).",
    )
    product_lines = models.ManyToManyField(ProductLine, blank=True, related_name="content_assets")
    programs = models.ManyToManyField(
        Program,
        blank=True,
        related_name="content_assets",
        help_text="Only partners seeing one of these programs see the asset; empty means every partner.",
    )
    tiers = models.ManyToManyField(
        Tier,
        blank=True,
        related_name="content_assets",
        help_text="Only partners holding one of these tiers, or a higher one of its program, see the "
        "asset; empty means any tier.",
    )
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="content_assets",
        help_text="Only partners in one of these segments see the asset; empty means any partner.",
    )
    partner_types = models.JSONField(
        default=list,
        blank=True,
        help_text="Only partners of these types see the asset; empty means any type.",
    )
    regions = models.JSONField(
        default=list,
        blank=True,
        help_text="Only partners in these regions see the asset; empty means any region.",
    )
    needs_content_access = models.BooleanField(
        default=True,
        help_text="Only partners holding a \u201ccontent access\u201d benefit (of one of the asset's "
        "programs, when it has any) see the asset.",
    )
    download_activity_type = models.ForeignKey(
        ActivityType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A partner's first download of the asset records an engagement activity of this "
        "type, which the points rules and activity SPIFs price; empty for none.",
    )
    download_points = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The activity's points; empty for the activity type's default points.",
    )
    published_from = models.DateTimeField(null=True, blank=True, help_text="Hidden from partners until then.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContentAssetQuerySet.as_manager()

    class Meta:
        ordering = ["title", "pk"]
        constraints = [
            models.CheckConstraint(
                name="content_asset_file_or_link",
                condition=(Q(kind=AssetKind.FILE) & ~Q(file="") & Q(url=""))
                | (Q(kind=AssetKind.LINK) & Q(file="") & ~Q(url="")),
                violation_error_message="A file asset has a file and no address; a link an address and no file.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == AssetKind.FILE:
            if not self.file:
                errors["file"] = "Upload the file of a file asset."
            if self.url:
                errors["url"] = "A file asset has no address: choose the link kind instead."
        elif self.kind == AssetKind.LINK:
            if not self.url:
                errors["url"] = "Give the address a link asset opens."
            if self.file:
                errors["file"] = "A link asset has no file: choose the file kind instead."
        unknown_types = sorted(set(self.partner_types or []) - set(PartnerType.values))
        if not isinstance(self.partner_types, list) or unknown_types:
            errors["partner_types"] = f"Unknown partner types: {', '.join(map(str, unknown_types))}."
        unknown_regions = sorted(set(self.regions or []) - set(Region.values))
        if not isinstance(self.regions, list) or unknown_regions:
            errors["regions"] = f"Unknown regions: {', '.join(map(str, unknown_regions))}."
        if self.download_points is not None and self.download_activity_type_id is None:
            errors["download_points"] = "Points need an activity type for the download to record."
        if errors:
            raise ValidationError(errors)


track_links(ContentAsset.product_lines.through, name="ContentAssetProductLineEvent")
track_links(ContentAsset.programs.through, name="ContentAssetProgramEvent")
track_links(ContentAsset.tiers.through, name="ContentAssetTierEvent")
track_links(ContentAsset.segments.through, name="ContentAssetSegmentEvent")


class ContentDownloadQuerySet(PartnerScopedQuerySet):
    """Downloads belong to the partner whose person downloaded: staff see those of the partners
    they cover, a partner admin the team's, other partner users their own."""

    def visible_to(self, principal):
        visible = super().visible_to(principal)
        user = principal_user(principal)
        if not is_active_user(user) or user.is_staff:
            return visible
        membership = Membership.for_user(user)
        if (
            membership is not None
            and membership.partner_id is not None
            and membership.role != MembershipRole.ADMIN
        ):
            return visible.filter(user=user)
        return visible


@tracked()
class ContentDownload(models.Model):
    """One download (or opening of a link) of an asset, counted for the downloader's partner."""

    asset = models.ForeignKey(ContentAsset, on_delete=models.CASCADE, related_name="downloads")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="content_downloads")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    downloaded_at = models.DateTimeField(default=timezone.now)

    objects = ContentDownloadQuerySet.as_manager()

    class Meta:
        ordering = ["-downloaded_at", "-pk"]
        indexes = [
            models.Index(fields=["asset", "partner"]),
            models.Index(fields=["partner", "downloaded_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.asset} – {self.partner}"
