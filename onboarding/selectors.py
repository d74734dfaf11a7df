"""Reads of onboarding: the programs a newcomer may name, and a partner's checklist with its progress."""

from dataclasses import dataclass, field

from django.db.models import Prefetch

from deals.models import Deal
from enablement.models import Completion
from onboarding.models import (
    AgreementAcceptance,
    ChecklistItem,
    ChecklistItemKind,
    ChecklistTick,
    CompanyProfile,
    ProgramAgreement,
)
from partners.models import Membership, Partner
from programs.models import Program

# A colleague: a second login of the partner, the first being its admin's.
COLLEAGUE_LOGINS = 2


def public_programs():
    """Programs open to every partner (active, no segment): the only ones a stranger may learn of."""
    return Program.objects.filter(is_active=True, segment__isnull=True).order_by("name")


def open_programs(partner: Partner):
    """The programs open to the partner, by the one rule of visibility (``program_open_to``)."""
    return Program.objects.for_partner(partner)


def system_done(partner: Partner, items: list[ChecklistItem]) -> set[int]:
    """The ids of those items the partner's records show done: at most one query per kind asked."""
    kinds = {item.kind for item in items}
    done: set[int] = set()
    if ChecklistItemKind.AGREEMENT in kinds:
        accepted = _accepted_current(partner, {item.program_id for item in items})
        done |= {
            item.pk
            for item in items
            if item.kind == ChecklistItemKind.AGREEMENT and item.program_id in accepted
        }
    if ChecklistItemKind.PROFILE in kinds:
        profile = CompanyProfile.objects.filter(partner=partner).first()
        if profile is not None and profile.is_complete(partner):
            done |= {item.pk for item in items if item.kind == ChecklistItemKind.PROFILE}
    if ChecklistItemKind.COLLEAGUE in kinds:
        logins = Membership.objects.filter(partner=partner, user__is_active=True).count()
        if logins >= COLLEAGUE_LOGINS:
            done |= {item.pk for item in items if item.kind == ChecklistItemKind.COLLEAGUE}
    if ChecklistItemKind.COURSE in kinds:
        completed = set(
            Completion.objects.filter(
                person__partner=partner,
                course__in=[item.course_id for item in items if item.kind == ChecklistItemKind.COURSE],
            ).values_list("course_id", flat=True)
        )
        done |= {
            item.pk for item in items if item.kind == ChecklistItemKind.COURSE and item.course_id in completed
        }
    if ChecklistItemKind.FIRST_DEAL in kinds and Deal.objects.filter(partner=partner).exists():
        done |= {item.pk for item in items if item.kind == ChecklistItemKind.FIRST_DEAL}
    return done


def _accepted_current(partner: Partner, program_ids: set[int]) -> set[int]:
    """Programs whose current agreement the partner accepted."""
    current = _current_agreements(program_ids)
    accepted = set(
        AgreementAcceptance.objects.filter(
            partner=partner, agreement__in=[agreement.pk for agreement in current.values()]
        ).values_list("agreement__program_id", flat=True)
    )
    return accepted


def _current_agreements(program_ids: set[int]) -> dict[int, ProgramAgreement]:
    """Each program's latest agreement version (one query)."""
    current: dict[int, ProgramAgreement] = {}
    for agreement in ProgramAgreement.objects.filter(program__in=program_ids).order_by(
        "program_id", "-version"
    ):
        current.setdefault(agreement.program_id, agreement)
    return current


@dataclass
class ItemState:
    item: ChecklistItem
    tick: ChecklistTick | None

    @property
    def done(self) -> bool:
        return self.tick is not None


@dataclass
class ProgramChecklist:
    program: Program
    items: list[ItemState]
    agreement: ProgramAgreement | None = None
    acceptance: AgreementAcceptance | None = None

    @property
    def done(self) -> int:
        return sum(1 for state in self.items if state.done)

    @property
    def asks_agreement(self) -> bool:
        return any(state.item.kind == ChecklistItemKind.AGREEMENT for state in self.items)


@dataclass
class Checklist:
    programs: list[ProgramChecklist] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(program.items) for program in self.programs)

    @property
    def done(self) -> int:
        return sum(program.done for program in self.programs)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def checklist(user, partner: Partner) -> Checklist:
    """The partner's onboarding checklist, program by program, as ``user`` may see it: five
    queries whatever the number of programs and items (programs with their items and courses, the
    ticks, the current agreements, the acceptances)."""
    programs = list(
        Program.objects.visible_to(user)
        .filter(pk__in=open_programs(partner).values("pk"))
        .filter(checklist_items__isnull=False)
        .distinct()
        .order_by("name")
        .prefetch_related(
            Prefetch(
                "checklist_items",
                queryset=ChecklistItem.objects.select_related("course").order_by("order", "id"),
            )
        )
    )
    ticks = {
        tick.item_id: tick
        for tick in ChecklistTick.objects.visible_to(user).filter(partner=partner).select_related("ticked_by")
    }
    current = _current_agreements({program.pk for program in programs})
    acceptances = {
        acceptance.agreement_id: acceptance
        for acceptance in AgreementAcceptance.objects.visible_to(user).filter(
            partner=partner, agreement__in=[agreement.pk for agreement in current.values()]
        )
    }
    result = Checklist()
    for program in programs:
        agreement = current.get(program.pk)
        result.programs.append(
            ProgramChecklist(
                program=program,
                items=[ItemState(item, ticks.get(item.pk)) for item in program.checklist_items.all()],
                agreement=agreement,
                acceptance=acceptances.get(agreement.pk) if agreement else None,
            )
        )
    return result
