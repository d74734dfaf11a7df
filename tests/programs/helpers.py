"""Program definitions of two channel managers, for the program managers' tests and the admin walk."""

import datetime

from django.utils import timezone

from gates.models import Gate, GateState
from onboarding.models import ChecklistItem, ChecklistItemKind, ProgramAgreement
from partners.models import ManagerProfile, Region
from partners.roles import ensure_channel_manager_group
from tests.factories import (
    BenefitFactory,
    ProgramFactory,
    SegmentFactory,
    TierFactory,
    UserFactory,
    grant_program_manager,
)
from tests.incentives.helpers import commission_rule


def program_manager(username: str):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(ensure_channel_manager_group())
    ManagerProfile.objects.create(user=user, regions=[Region.EMEA])
    return user


class Definitions:
    """One program of each manager, with every kind of definition hanging off the first."""

    def __init__(self, owner, other):
        self.segment = SegmentFactory(name="MSP segment")
        self.program = ProgramFactory(name="MSP program", slug="msp", segment=self.segment)
        self.tier = TierFactory(program=self.program, name="MSP Silver", rank=1)
        self.benefit = BenefitFactory(program=self.program, name="MSP content")
        self.gate = Gate.objects.create(
            program=self.program,
            name="MSP gate",
            state=GateState.DRAFT,
            criteria={"metric": "certified_people", "op": ">=", "target": 2},
        )
        # Not started yet: its program may still change.
        self.rule = commission_rule(
            self.program, name="MSP bonus", effective_from=timezone.localdate() + datetime.timedelta(days=30)
        )
        self.checklist_item = ChecklistItem.objects.create(
            program=self.program, kind=ChecklistItemKind.MANUAL, title="MSP kick-off call"
        )
        self.agreement = ProgramAgreement.objects.create(
            program=self.program, version=1, title="MSP agreement", text="Terms."
        )
        self.others = ProgramFactory(name="Reseller program", slug="reseller")
        grant_program_manager(owner, self.program)
        grant_program_manager(other, self.others)

    def objects(self) -> dict[str, object]:
        return {
            "programs_program": self.program,
            "programs_tier": self.tier,
            "programs_benefit": self.benefit,
            "programs_segment": self.segment,
            "gates_gate": self.gate,
            "incentives_incentiverule": self.rule,
            "onboarding_checklistitem": self.checklist_item,
            "onboarding_programagreement": self.agreement,
        }
