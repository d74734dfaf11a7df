"""Demo learning: a few courses, the Sales Engineer path and a quiz, and Acme's people part-way through.

Keyed on course codes and path titles, so seeding twice changes nothing. The demo partner admin
(``partner``) is enrolled in the basics course with one module done, and not yet in the demo
course, whose quiz is there to be failed and passed.
"""

import datetime

from django.utils import timezone

from enablement.models import (
    Choice,
    Completion,
    CompletionSource,
    Course,
    Enrolment,
    LearningPath,
    Module,
    PathStep,
    Question,
    Quiz,
)
from partners.models import CertificationTrack, CertificationType, Partner, ProductLine

COURSES = [
    (
        "platform-basics",
        "Platform basics",
        CertificationTrack.PRESALES,
        90,
        ["cloud"],
        "What the platform does, for whom, and how it is sold.",
        [
            ("What the platform does", "The three products and the problems they solve."),
            ("Who buys it", "The buyers, their budgets and the questions they ask."),
        ],
    ),
    (
        "demonstrating-the-platform",
        "Demonstrating the platform",
        CertificationTrack.PRESALES,
        120,
        ["cloud", "analytics"],
        "Run the standard demonstration and answer the usual objections.",
        [("The demo script", "Start from the dashboard; show one report; end on the pricing page.")],
    ),
    (
        "security-essentials",
        "Security essentials",
        CertificationTrack.SECURITY,
        60,
        ["security"],
        "The security add-on in one hour.",
        [("Threats and answers", "The five threats customers ask about, and the add-on's answer to each.")],
    ),
]
QUIZ = [
    ("Where does the standard demonstration start?", [("The dashboard", True), ("The settings", False)]),
    (
        "Which of these are add-ons?",
        [("Reporting", True), ("Backup", True), ("Signing in", False)],
    ),
    ("What does the demonstration end on?", [("The pricing page", True), ("A customer story", False)]),
]


def _course(code, title, track, minutes, lines, description, modules) -> Course:
    course, _ = Course.objects.get_or_create(
        code=code,
        defaults={
            "title": title,
            "track": track,
            "duration_minutes": minutes,
            "description": description,
            "xapi_activity_id": f"https://lms.example.com/courses/{code}",
        },
    )
    course.product_lines.set(ProductLine.objects.filter(code__in=lines))
    for order, (module_title, content) in enumerate(modules, start=1):
        Module.objects.get_or_create(
            course=course, title=module_title, defaults={"order": order, "content": content}
        )
    return course


def seed_learning(*, acme: Partner) -> None:
    courses = {spec[0]: _course(*spec) for spec in COURSES}
    demo_course = courses["demonstrating-the-platform"]
    quiz, _ = Quiz.objects.get_or_create(
        course=demo_course, defaults={"pass_mark_percent": 70, "max_attempts": 3}
    )
    for order, (text, choices) in enumerate(QUIZ, start=1):
        question, created = Question.objects.get_or_create(quiz=quiz, text=text, defaults={"order": order})
        if created:
            Choice.objects.bulk_create(
                Choice(question=question, text=choice, is_correct=correct) for choice, correct in choices
            )
    path, _ = LearningPath.objects.get_or_create(
        title="Sales Engineer",
        defaults={
            "description": "The two presales courses; completing them certifies a sales engineer.",
            "certification_type": CertificationType.objects.get(code="sales-engineer"),
            "validity_months": 24,
        },
    )
    for order, code in enumerate(["platform-basics", "demonstrating-the-platform"], start=1):
        PathStep.objects.get_or_create(path=path, course=courses[code], defaults={"order": order})

    # Acme's people part-way: the demo login has one module of the basics done; two colleagues
    # completed the basics course, one of them the security course too.
    basics = courses["platform-basics"]
    people = list(acme.people.filter(is_active=True).order_by("id"))
    admin = next((person for person in people if person.user_id is not None), None)
    if admin is not None:
        enrolment, _ = Enrolment.objects.get_or_create(person=admin, course=basics)
        first_module = basics.modules.order_by("order").first()
        if first_module is not None:
            enrolment.modules_done.add(first_module)
    colleagues = [person for person in people if person.user_id is None][:2]
    now = timezone.now()
    for number, person in enumerate(colleagues):
        done = [basics] + ([courses["security-essentials"]] if number == 0 else [])
        for course in done:
            enrolment, _ = Enrolment.objects.get_or_create(person=person, course=course)
            enrolment.modules_done.add(*course.modules.all())
            Completion.objects.get_or_create(
                person=person,
                course=course,
                defaults={
                    "completed_at": now - datetime.timedelta(days=20 + 10 * number),
                    "source": CompletionSource.PORTAL,
                },
            )
