"""Learning in the portal: the catalogue, a course's modules and quiz, and the team's progress.

A partner's people see the courses and paths their programs allow (``Course.objects.visible_to``);
each learns as the person record of their login (``Enrolment.objects.actionable_by(user,
"learn")``). Staff manage the catalogue in the admin, distributors have no part in it: these pages
answer them 404.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from enablement.models import Course, Enrolment, Module, Question
from enablement.services import (
    LearningRefused,
    enrolment_create,
    module_mark_done,
    quiz_attempts_grant,
    quiz_submit,
)
from portal import learning_selectors
from portal.access import is_htmx, portal_view, viewer_for
from portal.forms import AttemptGrantForm, QuizForm
from portal.views import render_portal

NO_PERSON = (
    "Your login is not linked to a person of your organisation yet, so your learning cannot be "
    "recorded; ask your partner admin to add you to the team."
)


def _learner(request: HttpRequest):
    partner = viewer_for(request).partner
    assert partner is not None
    return partner, learning_selectors.learner_for(request.user, partner)


@portal_view("partner")
def catalogue(request: HttpRequest) -> HttpResponse:
    partner, person = _learner(request)
    view = learning_selectors.catalogue(request.user, partner, person)
    return render_portal(
        request,
        "portal/learning/catalogue.html",
        {"catalogue": view, "person": person, "no_person": NO_PERSON},
        section="learning",
    )


def _course(request: HttpRequest, pk: int) -> Course:
    return get_object_or_404(Course.objects.visible_to(request.user), pk=pk)


def _render_course(request: HttpRequest, course: Course, *, status: int = 200, **extra) -> HttpResponse:
    _partner, person = _learner(request)
    detail = learning_selectors.course_detail(request.user, course, person)
    return render_portal(
        request,
        "portal/learning/course.html",
        {"detail": detail, "person": person, "no_person": NO_PERSON, **extra},
        section="learning",
        status=status,
    )


@portal_view("partner")
def course_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_course(request, _course(request, pk))


@require_POST
@portal_view("partner")
def course_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    course = _course(request, pk)
    if not Course.objects.allows(request.user, "enrol", course):
        raise PermissionDenied(NO_PERSON)
    _partner, person = _learner(request)
    assert person is not None  # the door admits only a user with an active person record
    enrolment_create(actor=request.user, person=person, course=course)
    messages.success(request, f"You are enrolled in “{course.title}”.")
    return redirect("portal:course_detail", pk=course.pk)


def _enrolment(request: HttpRequest, course: Course) -> Enrolment:
    """The viewer's own enrolment in the course (404 without one)."""
    return get_object_or_404(
        Enrolment.objects.actionable_by(request.user, "learn").select_related("course", "person"),
        course=course,
    )


@require_POST
@portal_view("partner")
def module_done(request: HttpRequest, pk: int, module_pk: int) -> HttpResponse:
    course = _course(request, pk)
    enrolment = _enrolment(request, course)
    module = get_object_or_404(Module.objects.visible_to(request.user), pk=module_pk, course=course)
    completion = module_mark_done(actor=request.user, enrolment=enrolment, module=module)
    if completion is not None:
        messages.success(request, f"You completed “{course.title}”.")
    if is_htmx(request):
        if completion is not None:
            # The whole page changes (completed, certifications): htmx loads it afresh.
            return HttpResponseClientRedirect(reverse("portal:course_detail", args=[course.pk]))
        _partner, person = _learner(request)
        detail = learning_selectors.course_detail(request.user, course, person)
        return render_portal(request, "portal/learning/_modules.html", {"detail": detail}, section="learning")
    return redirect("portal:course_detail", pk=course.pk)


@portal_view("partner")
def course_quiz(request: HttpRequest, pk: int) -> HttpResponse:
    course = _course(request, pk)
    _partner, person = _learner(request)
    detail = learning_selectors.course_detail(request.user, course, person)
    if detail.quiz is None:
        return redirect("portal:course_detail", pk=course.pk)
    questions = list(
        Question.objects.visible_to(request.user)
        .filter(quiz=detail.quiz)
        .prefetch_related("choices")
        .order_by("order", "pk")
    )
    form = QuizForm(request.POST or None, questions=questions)
    result = None
    status = 200
    if request.method == "POST":
        enrolment = _enrolment(request, course)
        if form.is_valid():
            try:
                result = quiz_submit(actor=request.user, enrolment=enrolment, answers=form.answers())
            except LearningRefused as exc:
                form.add_service_errors(exc)
                status = 400
            else:
                if result.completion is not None:
                    messages.success(request, f"You completed “{course.title}”.")
                detail = learning_selectors.course_detail(request.user, course, person)
                form = QuizForm(questions=questions)
        else:
            status = 400
    return render_portal(
        request,
        "portal/learning/quiz.html",
        {"detail": detail, "form": form, "result": result, "person": person, "no_person": NO_PERSON},
        section="learning",
        status=status,
    )


@portal_view("partner")
def team_learning(request: HttpRequest) -> HttpResponse:
    """A partner admin's view of the team's learning, and which gates each path and course helps with."""
    viewer = viewer_for(request)
    if not viewer.is_partner_admin:
        raise PermissionDenied("Only partner admins see the team's learning.")
    partner = viewer.partner
    assert partner is not None
    view = learning_selectors.catalogue(request.user, partner, None)
    members = learning_selectors.team_learning(request.user, partner)
    for path in view.paths:
        courses = {state.course.pk for state in path.courses}
        path.people_done = sum(courses <= member.completed for member in members) if courses else 0
    return render_portal(
        request,
        "portal/learning/team.html",
        {"catalogue": view, "members": members},
        section="learning",
    )


@require_POST
@portal_view("partner")
def grant_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    """A partner admin grants a colleague one more attempt at a quiz they have used up (or not yet)."""
    enrolment = get_object_or_404(
        Enrolment.objects.actionable_by(request.user, "grant_attempts").select_related("person", "course"),
        pk=pk,
    )
    form = AttemptGrantForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, " ".join(str(error) for error in form.errors.get("reason", [])) or "Check the reason."
        )
        return redirect("portal:learning_team")
    try:
        quiz_attempts_grant(actor=request.user, enrolment=enrolment, reason=form.cleaned_data["reason"])
    except LearningRefused as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"{enrolment.person} has one more attempt at the quiz of “{enrolment.course.title}”."
        )
    return redirect("portal:learning_team")
