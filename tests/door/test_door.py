"""The one door: every model with a path to a partner offers ``visible_to`` and
``actionable_by``, and no view, serializer, form or portal selector reads such a
model past them."""

import ast
import pathlib

import pytest
from django.apps import apps
from django.db import models
from pghistory.models import Event

from core.door import UnknownAction, has_door

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROJECT_APPS = {
    "partners",
    "programs",
    "enablement",
    "gates",
    "deals",
    "incentives",
    "api",
    "accounts",
    "portal",
    "events",
    "webhooks",
    "inbox",
    "onboarding",
}


def _reaches_partner(model, seen=()) -> bool:
    """Whether a chain of foreign keys (or one-to-ones) leads from ``model`` to ``Partner``."""
    from partners.models import Partner

    if model is Partner:
        return True
    for field in model._meta.get_fields():
        if not (field.concrete and field.is_relation and (field.many_to_one or field.one_to_one)):
            continue
        target = field.related_model
        if target is None or target in seen or target is model:
            continue
        if _reaches_partner(target, (*seen, model)):
            return True
    return False


def partner_scoped_models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS
        # History rows are read only through history.selectors: per object behind the
        # admin's coverage, the whole log with the permission to read it.
        and not issubclass(model, Event)
        and _reaches_partner(model)
    ]


def test_the_walk_finds_the_result_models():
    labels = {model._meta.label for model in partner_scoped_models()}
    expected = {
        "partners.Partner",
        "gates.GateStatus",
        "gates.GateStatusChange",
        "gates.PartnerTier",
        "gates.TierChange",
        "gates.BenefitGrant",
        "gates.SegmentMembership",
        "incentives.CustomerActivation",
        "incentives.Payout",
        "incentives.Redemption",
        "incentives.LedgerTransition",
        "deals.MdfLedgerEntry",
        "enablement.Enrolment",
        "enablement.QuizAttempt",
        "enablement.Completion",
        "inbox.InboxItem",
        "onboarding.PartnerApplication",
        "onboarding.ChecklistTick",
        "onboarding.AgreementAcceptance",
        "onboarding.CompanyProfile",
    }
    assert expected <= labels, expected - labels


def test_every_model_with_a_foreign_key_path_to_a_partner_has_the_door():
    missing = [model._meta.label for model in partner_scoped_models() if not has_door(model)]
    assert not missing, (
        f"give these models visible_to(principal) and actionable_by(principal, action): {missing}"
    )


def test_definitions_have_the_door_too():
    from enablement.models import Choice, Course, LearningPath, Module, PathStep, Question, Quiz
    from gates.models import Gate
    from incentives.models import IncentiveRule
    from programs.models import Benefit, Program, Segment, Tier

    catalogue = (Course, Module, Quiz, Question, Choice, LearningPath, PathStep)
    for model in (Program, Tier, Benefit, Segment, Gate, IncentiveRule, *catalogue):
        assert has_door(model), model._meta.label


@pytest.mark.django_db
def test_an_action_no_queryset_defines_is_a_mistake_not_a_refusal(channel_manager):
    from gates.models import GateStatus

    with pytest.raises(UnknownAction):
        GateStatus.objects.actionable_by(channel_manager, "approve")


# --- reads past the door ------------------------------------------------------------------------

# Doors built on visible_to/actionable_by (``allows`` asks actionable_by about one object), and
# what never returns a row.
DOOR_METHODS = {"visible_to", "actionable_by", "allows", "awaiting_decision_by", "none"}
# Where requests are answered: every module of these packages, and views, serializers,
# forms and selectors anywhere under an app's api/.
CHECKED = ["api", "portal"]


def door_bypasses(source: str, scoped_names: set[str]) -> list[tuple[int, str]]:
    """``Model.objects.<method>`` (or ``_default_manager``) on a partner-scoped model whose first
    call is not a door, and a manager handed on as it is (``queryset=Sale.objects``)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Attribute)
            and node.attr in {"objects", "_default_manager"}
            and isinstance(node.value, ast.Name)
            and node.value.id in scoped_names
        ):
            continue
        parent = parents.get(node)
        method = parent.attr if isinstance(parent, ast.Attribute) and parent.value is node else None
        if method not in DOOR_METHODS:
            found.append((node.lineno, f"{node.value.id}.{node.attr}.{method or ''}"))
    return found


def _checked_files() -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    for folder in CHECKED:
        files += [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
    return sorted(set(files))


def test_the_check_sees_a_read_past_the_door():
    source = (
        "a = Sale.objects.filter(partner=p)\n"
        "b = Sale.objects.visible_to(user).filter(partner=p)\n"
        "c = serializers.PrimaryKeyRelatedField(queryset=Deal.objects)\n"
        "d = Deal._default_manager.get(pk=1)\n"
        "e = Deal.objects.actionable_by(user, 'decide')\n"
        "f = Program.objects.all()\n"
    )
    assert door_bypasses(source, {"Sale", "Deal"}) == [
        (1, "Sale.objects.filter"),
        (3, "Deal.objects."),
        (4, "Deal._default_manager.get"),
    ]


def test_views_serializers_forms_and_selectors_read_partner_scoped_models_through_the_door():
    scoped = {model.__name__ for model in partner_scoped_models()}
    bypasses = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _checked_files()
        for line, what in door_bypasses(path.read_text(), scoped)
    ]
    assert not bypasses, "read these through visible_to/actionable_by:\n" + "\n".join(bypasses)


# --- reads past the door through a related manager ---------------------------------------------

# Calls on a related manager that read rows (a write such as ``.set`` or ``.add`` is an action,
# decided by the service that makes it).
QUERY_METHODS = {
    "all",
    "filter",
    "exclude",
    "get",
    "first",
    "last",
    "values",
    "values_list",
    "order_by",
    "select_related",
    "prefetch_related",
    "annotate",
    "aggregate",
    "count",
    "exists",
    "iterator",
    "in_bulk",
    "only",
    "defer",
}
# A read past the door on purpose says why, on its line or the line above: ``# door: <reason>``.
ALLOWED_MARK = "# door:"


def scoped_accessors() -> set[str]:
    """Names of related managers that yield partner-scoped rows (``partner.sales``,
    ``request.entries``), leaving out names that some other relation also answers to
    (``program.tiers`` yields definitions), which an AST cannot tell apart."""
    scoped = set(partner_scoped_models())
    yields: dict[str, set[bool]] = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not field.is_relation or field.related_model is None:
                continue
            if field.concrete:
                # A forward many-to-many (``token.partners``) reads its targets.
                if field.many_to_many:
                    yields.setdefault(field.name, set()).add(field.related_model in scoped)
                remote = field.remote_field
                accessor = remote.get_accessor_name() if hasattr(remote, "get_accessor_name") else None
                if accessor and not accessor.endswith("+"):
                    yields.setdefault(accessor, set()).add(model in scoped)
            elif not field.auto_created:
                yields.setdefault(field.name, set()).add(field.related_model in scoped)
    return {name for name, kinds in yields.items() if kinds == {True}}


def related_reads(source: str, accessors: set[str]) -> list[tuple[int, str]]:
    """``<object>.<accessor>.<query method>`` where the accessor yields partner-scoped rows, unless
    its line, or the line above, carries ``# door: <reason>``."""
    tree = ast.parse(source)
    lines = source.splitlines()
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in accessors):
            continue
        parent = parents.get(node)
        method = parent.attr if isinstance(parent, ast.Attribute) and parent.value is node else None
        if method not in QUERY_METHODS:
            continue
        if any(ALLOWED_MARK in line for line in lines[max(0, node.lineno - 2) : node.lineno]):
            continue
        found.append((node.lineno, f".{node.attr}.{method}"))
    return found


def test_the_check_sees_a_read_through_a_related_manager():
    source = (
        "a = partner.sales.filter(amount__gt=0)\n"
        "b = program.tiers.all()\n"
        "c = partner.sales.set([])\n"
        "d = request.entries.all()  # door: the entries of a request the caller may see\n"
        "# door: the history of a request read through the door\n"
        "e = request.entries.all()\n"
        "f = person.certifications.count()\n"
    )
    assert related_reads(source, {"sales", "entries", "certifications"}) == [
        (1, ".sales.filter"),
        (7, ".certifications.count"),
    ]


def test_the_related_managers_checked_include_the_facts_and_leave_out_the_ambiguous():
    accessors = scoped_accessors()

    assert {"sales", "certifications", "gate_statuses", "deals", "mdf_requests"} <= accessors
    assert "tiers" not in accessors  # program.tiers yields definitions


def test_views_serializers_forms_and_selectors_read_no_partner_scoped_rows_through_a_related_manager():
    accessors = scoped_accessors()
    reads = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _checked_files()
        for line, what in related_reads(path.read_text(), accessors)
    ]
    assert not reads, (
        "read these through visible_to/actionable_by, or say why on the line with "
        f"'{ALLOWED_MARK} <reason>':\n" + "\n".join(reads)
    )
