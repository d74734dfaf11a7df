"""The catalogue the enablement tests share."""

from enablement.models import Choice, Course, LearningPath, Module, PathStep, Question, Quiz
from partners.models import CertificationTrack
from tests.factories import CertificationTypeFactory


class Catalogue:
    """Two courses making the Sales Engineer path (a 12-month certification) and a one-course renewal.

    Platform basics has two modules and no quiz; Demonstrating the platform one module and a quiz
    of two questions (one with two right answers), passed at 70 % with two attempts.
    """

    def __init__(self):
        self.certification_type = CertificationTypeFactory(code="sales-engineer", validity_months=24)
        self.basics = Course.objects.create(
            title="Platform basics",
            track=CertificationTrack.PRESALES,
            duration_minutes=90,
            xapi_activity_id="https://lms.example.com/courses/basics",
        )
        self.demo = Course.objects.create(
            title="Demonstrating the platform",
            track=CertificationTrack.PRESALES,
            duration_minutes=150,
            xapi_activity_id="https://lms.example.com/courses/demo",
        )
        self.refresher = Course.objects.create(
            title="What changed this year", track=CertificationTrack.PRESALES, duration_minutes=45
        )
        self.path = LearningPath.objects.create(
            title="Sales Engineer", certification_type=self.certification_type, validity_months=12
        )
        PathStep.objects.create(path=self.path, course=self.basics, order=1)
        PathStep.objects.create(path=self.path, course=self.demo, order=2)
        self.renewal = LearningPath.objects.create(
            title="Sales Engineer renewal", certification_type=self.certification_type, is_renewal=True
        )
        PathStep.objects.create(path=self.renewal, course=self.refresher, order=1)
        self.basics_modules = [
            Module.objects.create(course=self.basics, title="What the platform does", order=1),
            Module.objects.create(course=self.basics, title="Who buys it", order=2),
        ]
        self.demo_module = Module.objects.create(course=self.demo, title="The demo script", order=1)
        self.quiz = Quiz.objects.create(course=self.demo, pass_mark_percent=70, max_attempts=2)
        self.first_question = Question.objects.create(
            quiz=self.quiz, text="Where does the demo start?", order=1
        )
        self.right = Choice.objects.create(
            question=self.first_question, text="The dashboard", is_correct=True
        )
        self.wrong = Choice.objects.create(question=self.first_question, text="The settings")
        self.second_question = Question.objects.create(quiz=self.quiz, text="Which are add-ons?", order=2)
        self.add_ons = [
            Choice.objects.create(question=self.second_question, text="Reporting", is_correct=True),
            Choice.objects.create(question=self.second_question, text="Backup", is_correct=True),
        ]
        self.not_add_on = Choice.objects.create(question=self.second_question, text="Log-in")

    def right_answers(self) -> dict[int, list[int]]:
        return {
            self.first_question.pk: [self.right.pk],
            self.second_question.pk: [choice.pk for choice in self.add_ons],
        }

    def half_right_answers(self) -> dict[int, list[int]]:
        return {self.first_question.pk: [self.right.pk], self.second_question.pk: [self.add_ons[0].pk]}
