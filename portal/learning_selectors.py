"""What the portal's learning pages read: the catalogue with the viewer's progress, a course's
state for its learner, and the team's progress for a partner admin.

Every read goes through the one door (``visible_to``); counts stay flat as the catalogue and the
team grow (each function names its queries).
"""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from enablement.models import (
    Completion,
    Course,
    Enrolment,
    LearningPath,
    Module,
    PathStep,
    Quiz,
    QuizAttempt,
    QuizAttemptGrant,
)
from enablement.services import quiz_attempts_left
from gates.learning import GateHelp, learning_gate_help
from partners.models import Partner, Person


def learner_for(user, partner: Partner) -> Person | None:
    """The active person record of the signed-in user at their partner: one query."""
    return Person.objects.visible_to(user).filter(user=user, partner=partner, is_active=True).first()


@dataclass
class CourseState:
    """A course as one person stands in it."""

    course: Course
    enrolment: Enrolment | None = None
    modules_total: int = 0
    modules_done: int = 0
    has_quiz: bool = False
    quiz_passed: bool = False
    completed: bool = False
    helps: list[GateHelp] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.completed:
            return "completed"
        if self.enrolment is None:
            return "not enrolled"
        return "in progress"


@dataclass
class PathState:
    path: LearningPath
    courses: list[CourseState]
    helps: list[GateHelp] = field(default_factory=list)
    people_done: int = 0  # on the team page: how many of the team completed every course

    @property
    def completed(self) -> int:
        return sum(state.completed for state in self.courses)


@dataclass
class CatalogueView:
    courses: list[CourseState]
    paths: list[PathState]


def _visible_courses(user) -> QuerySet[Course]:
    return (
        Course.objects.visible_to(user)
        .annotate(module_count=Count("modules", distinct=True))
        .select_related("quiz")
        .prefetch_related("product_lines")
        .order_by("title", "pk")
    )


def catalogue(user, partner: Partner, person: Person | None) -> CatalogueView:
    """The courses and paths the user sees, with the person's progress and the gates each helps with.

    Queries: courses (1) and their product lines (1); paths (1) and their steps (1); the person's
    enrolments (1), completions (1) and passed quizzes (1); gates and the partner's standing (3).
    """
    courses = list(_visible_courses(user))
    paths = list(
        LearningPath.objects.visible_to(user)
        .select_related("certification_type")
        .prefetch_related(Prefetch("steps", queryset=PathStep.objects.order_by("order", "pk")))
        .order_by("title", "pk")
    )
    enrolments: dict[int, Enrolment] = {}
    completed: set[int] = set()
    passed_quizzes: set[int] = set()
    if person is not None:
        enrolments = {
            enrolment.course_id: enrolment
            for enrolment in Enrolment.objects.visible_to(user)
            .filter(person=person)
            .annotate(done_count=Count("modules_done", distinct=True))
        }
        completed = set(
            Completion.objects.visible_to(user).filter(person=person).values_list("course_id", flat=True)
        )
        passed_quizzes = set(
            QuizAttempt.objects.visible_to(user)
            .filter(person=person, passed=True)
            .values_list("quiz_id", flat=True)
        )
    by_course, by_path = learning_gate_help(user, partner, courses=courses, paths=paths)
    states: dict[int, CourseState] = {}
    for course in courses:
        enrolment = enrolments.get(course.pk)
        quiz = getattr(course, "quiz", None)
        states[course.pk] = CourseState(
            course=course,
            enrolment=enrolment,
            modules_total=course.module_count,  # type: ignore[attr-defined]
            modules_done=enrolment.done_count if enrolment else 0,  # type: ignore[attr-defined]
            has_quiz=quiz is not None,
            quiz_passed=quiz is not None and quiz.pk in passed_quizzes,
            completed=course.pk in completed,
            helps=by_course.get(course.pk, []),
        )
    path_states = [
        PathState(
            path=path,
            courses=[states[step.course_id] for step in path.steps.all() if step.course_id in states],
            helps=by_path.get(path.pk, []),
        )
        for path in paths
    ]
    return CatalogueView(courses=list(states.values()), paths=path_states)


@dataclass
class CourseDetail:
    course: Course
    modules: list[Module]
    enrolment: Enrolment | None
    done: set[int]
    quiz: Quiz | None
    attempts_left: int
    quiz_passed: bool
    completed: bool
    may_enrol: bool

    @property
    def modules_left(self) -> int:
        return sum(module.pk not in self.done for module in self.modules)


def course_detail(user, course: Course, person: Person | None) -> CourseDetail:
    """A course's modules and quiz, and where the person stands in it: about seven queries."""
    modules = list(Module.objects.visible_to(user).filter(course=course).order_by("order", "pk"))
    quiz = Quiz.objects.visible_to(user).filter(course=course).first()
    enrolment = None
    done: set[int] = set()
    attempts_left = quiz.max_attempts if quiz else 0
    quiz_passed = completed = False
    if person is not None:
        enrolment = (
            Enrolment.objects.actionable_by(user, "learn").filter(person=person, course=course).first()
        )
        if enrolment is not None:
            done = set(enrolment.modules_done.values_list("pk", flat=True))
        if quiz is not None:
            attempts_left = quiz_attempts_left(person_id=person.pk, quiz=quiz)
            quiz_passed = (
                QuizAttempt.objects.visible_to(user).filter(person=person, quiz=quiz, passed=True).exists()
            )
        completed = Completion.objects.visible_to(user).filter(person=person, course=course).exists()
    return CourseDetail(
        course=course,
        modules=modules,
        enrolment=enrolment,
        done=done,
        quiz=quiz,
        attempts_left=attempts_left,
        quiz_passed=quiz_passed,
        completed=completed,
        may_enrol=person is not None and enrolment is None,
    )


@dataclass
class TeamMemberLearning:
    person: Person
    enrolments: list[Enrolment]
    completed: set[int]

    @property
    def in_progress(self) -> list[Enrolment]:
        return [enrolment for enrolment in self.enrolments if enrolment.course_id not in self.completed]


def _quiz_standing(user, enrolments: QuerySet[Enrolment]) -> QuerySet[Enrolment]:
    """Each enrolment's quiz (if any) as its person stands in it, in the same query: the quiz's
    attempts, those granted, those used and whether one passed (as ``user`` may see them)."""
    attempts = QuizAttempt.objects.visible_to(user).filter(
        person_id=OuterRef("person_id"), quiz__course_id=OuterRef("course_id")
    )
    used = attempts.order_by().values("person_id").annotate(n=Count("pk")).values("n")
    granted = (
        QuizAttemptGrant.objects.visible_to(user)
        .filter(person_id=OuterRef("person_id"), quiz__course_id=OuterRef("course_id"))
        .order_by()
        .values("person_id")
        .annotate(n=Sum("extra_attempts"))
        .values("n")
    )
    return enrolments.annotate(
        quiz_attempts=F("course__quiz__max_attempts"),
        attempts_used=Coalesce(Subquery(used), 0),
        attempts_granted=Coalesce(Subquery(granted), 0),
        quiz_passed=Exists(attempts.filter(passed=True)),
    )


def team_learning(user, partner: Partner) -> list[TeamMemberLearning]:
    """Each active person of the partner with their enrolments (modules done counted, and where
    they stand in the quiz) and completed courses, as the user may see them (a partner admin:
    everyone's). Three queries."""
    people = list(
        Person.objects.visible_to(user)
        .filter(partner=partner, is_active=True)
        .order_by("last_name", "first_name")
    )
    enrolments: dict[int, list[Enrolment]] = {person.pk: [] for person in people}
    for enrolment in _quiz_standing(
        user,
        Enrolment.objects.visible_to(user)
        .filter(person__partner=partner, person__is_active=True)
        .select_related("course")
        .annotate(
            done_count=Count("modules_done", distinct=True),
            module_count=Count("course__modules", distinct=True),
        )
        .order_by("course__title", "pk"),
    ):
        quiz_attempts = enrolment.quiz_attempts  # type: ignore[attr-defined]
        enrolment.attempts_exhausted = (  # type: ignore[attr-defined]
            quiz_attempts is not None
            and not enrolment.quiz_passed  # type: ignore[attr-defined]
            and enrolment.attempts_used >= quiz_attempts + enrolment.attempts_granted  # type: ignore[attr-defined]
        )
        enrolments.setdefault(enrolment.person_id, []).append(enrolment)
    completed: dict[int, set[int]] = {person.pk: set() for person in people}
    for person_id, course_id in (
        Completion.objects.visible_to(user)
        .filter(person__partner=partner, person__is_active=True)
        .values_list("person_id", "course_id")
    ):
        completed.setdefault(person_id, set()).add(course_id)
    return [
        TeamMemberLearning(person=person, enrolments=enrolments[person.pk], completed=completed[person.pk])
        for person in people
    ]
