"""Building a program with an onboarding checklist, and an application, for the onboarding tests."""

from enablement.models import Course
from onboarding.models import ChecklistItem, ChecklistItemKind, ProgramAgreement
from partners.models import BusinessModel, PartnerType
from tests.factories import ProgramFactory


def program_with_checklist(*, name: str = "Partner Network", slug: str = "network", manual: bool = False):
    """A program open to every partner whose checklist has every kind the system ticks (and a
    manual one when asked), with its agreement at version 2 (version 1 superseded)."""
    program = ProgramFactory(name=name, slug=slug)
    course = Course.objects.create(
        title=f"Welcome to {name}", code=f"{slug}-welcome", track="sales", duration_minutes=30
    )
    ProgramAgreement.objects.create(program=program, version=1, title=f"{name} agreement", text="Old terms.")
    agreement = ProgramAgreement.objects.create(
        program=program, version=2, title=f"{name} agreement", text="The partner sells in good faith."
    )
    kinds = [
        ChecklistItemKind.AGREEMENT,
        ChecklistItemKind.PROFILE,
        ChecklistItemKind.COLLEAGUE,
        ChecklistItemKind.COURSE,
        ChecklistItemKind.FIRST_DEAL,
    ]
    items = {}
    for order, kind in enumerate(kinds):
        items[kind] = ChecklistItem.objects.create(
            program=program,
            kind=kind,
            order=order,
            course=course if kind == ChecklistItemKind.COURSE else None,
        )
    if manual:
        items[ChecklistItemKind.MANUAL] = ChecklistItem.objects.create(
            program=program, kind=ChecklistItemKind.MANUAL, title="A kick-off call", order=9
        )
    return program, agreement, course, items


def application_fields(**overrides) -> dict:
    fields = {
        "company": "Newco Integrations",
        "country": "DE",
        "partner_type": PartnerType.SYSTEM_INTEGRATOR,
        "business_model": BusinessModel.SERVICES,
        "website": "https://newco.example",
        "contact_first_name": "Nora",
        "contact_last_name": "Newman",
        "contact_email": "nora@newco.example",
        "contact_phone": "+49 30 1234",
        "contact_job_title": "CEO",
        "other_contacts": "",
        "message": "",
    }
    return fields | overrides
