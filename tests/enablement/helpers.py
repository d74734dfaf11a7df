"""The catalogue the enablement tests share."""

from enablement.models import Course, LearningPath, PathStep
from partners.models import CertificationTrack
from tests.factories import CertificationTypeFactory


class Catalogue:
    """Two courses making the Sales Engineer path (a 12-month certification) and a one-course renewal."""

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
