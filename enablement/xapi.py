"""Completions from an external LMS, as xAPI statements (the subset that matters).

A statement says that an actor (``mbox``, mapped to a person by email) ``completed`` or ``passed``
an activity (its id mapped to a course by ``Course.xapi_activity_id``), with an optional score and
a timestamp. Statements are idempotent by their id: one already stored is reported unchanged.
Each statement is reported created, unchanged or rejected with its reasons; a rejected statement
does not stop the others.
"""

import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.door import principal_user
from enablement.models import Completion, CompletionSource, Course
from enablement.services import completion_record
from partners.models import Partner, Person
from prm.text import storable_problem

VERBS = {
    "http://adlnet.gov/expapi/verbs/completed": "completed",
    "http://adlnet.gov/expapi/verbs/passed": "passed",
}
MAX_STATEMENTS = 1000
# Completions older than this are a client's mistake (a year 291 from a botched format).
EARLIEST = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class StatementBatchError(ValueError):
    """The batch as a whole cannot be taken: nothing is stored."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(str(errors))
        self.errors = errors


@dataclass
class StatementResult:
    index: int
    statement_id: str | None
    result: str = "rejected"
    id: int | None = None
    certifications: list[int] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def reject(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"index": self.index, "statement_id": self.statement_id, "result": self.result}
        if self.result == "rejected":
            row["errors"] = self.errors
        else:
            row["id"] = self.id
            row["certifications"] = self.certifications
        return row


@dataclass
class _Parsed:
    statement_id: uuid.UUID
    email: str
    activity_id: str
    completed_at: datetime.datetime
    score_percent: Decimal | None


def _parse(statement: Any, result: StatementResult, now: datetime.datetime) -> _Parsed | None:
    if not isinstance(statement, dict):
        result.reject("non_field_errors", "Expected a statement object.")
        return None
    try:
        statement_id = uuid.UUID(str(statement.get("id")))
        result.statement_id = str(statement_id)
    except ValueError:
        result.reject("id", "Give the statement's id, a UUID.")
        statement_id = None
    actor = statement.get("actor")
    mbox = actor.get("mbox") if isinstance(actor, dict) else None
    email = ""
    if (
        not isinstance(mbox, str)
        or storable_problem(mbox)
        or not mbox.startswith("mailto:")
        or "@" not in mbox
        or len(mbox) > 261
    ):
        result.reject("actor", "Name the actor by its mbox, mailto:someone@example.com.")
    else:
        email = mbox.removeprefix("mailto:").strip().lower()
    verb = statement.get("verb")
    verb_id = verb.get("id") if isinstance(verb, dict) else None
    if not isinstance(verb_id, str) or verb_id not in VERBS:
        result.reject("verb", "Only the verbs completed and passed record a completion.")
    target = statement.get("object")
    activity_id = target.get("id") if isinstance(target, dict) else None
    if (
        not isinstance(activity_id, str)
        or not activity_id
        or len(activity_id) > 500
        or storable_problem(activity_id)
    ):
        result.reject("object", "Give the activity's id.")
    score_percent = _score(statement.get("result"), result)
    completed_at = now
    if statement.get("timestamp") is not None:
        completed_at = _timestamp(statement["timestamp"], result, now) or now
    if result.errors or statement_id is None:
        return None
    return _Parsed(statement_id, email, str(activity_id), completed_at, score_percent)


def _timestamp(stamp: Any, result: StatementResult, now: datetime.datetime) -> datetime.datetime | None:
    try:
        # Well formed but no real time (minute 99, an offset of 25 hours) raises ValueError.
        parsed = parse_datetime(stamp) if isinstance(stamp, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        result.reject("timestamp", "Give an ISO 8601 timestamp with its time zone.")
    elif parsed > now + datetime.timedelta(days=1):
        result.reject("timestamp", "The timestamp is in the future.")
    elif parsed < EARLIEST:
        # Also keeps year 1 with an offset east of UTC, which has no UTC time to store.
        result.reject("timestamp", f"The timestamp is before {EARLIEST.year}: no LMS recorded it.")
    else:
        return parsed
    return None


def _score(value: Any, result: StatementResult) -> Decimal | None:
    if value is None:
        return None
    score = value.get("score") if isinstance(value, dict) else None
    if score is None:
        return None
    scaled = score.get("scaled") if isinstance(score, dict) else None
    if isinstance(scaled, bool) or not isinstance(scaled, (int, float, str, Decimal)):
        result.reject("result", "Give the score as result.score.scaled, from 0 to 1.")
        return None
    try:
        number = Decimal(str(scaled))
    except InvalidOperation:
        number = Decimal(-1)
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(1):
        result.reject("result", "Give the score as result.score.scaled, from 0 to 1.")
        return None
    return (number * 100).quantize(Decimal("0.01"))


def statements_ingest(*, principal, statements: Any) -> dict[str, Any]:
    """Record the completions the statements report; issue the certifications of finished paths.

    The door decides: a statement maps only to a person of a partner ``principal`` may send facts
    for. Side effects: completions and certifications with their audit entries; the partners whose
    facts changed are re-decided after commit.
    """
    if not isinstance(statements, list):
        raise StatementBatchError({"non_field_errors": ["Send a list of statements."]})
    if not statements:
        raise StatementBatchError({"non_field_errors": ["Send at least one statement."]})
    if len(statements) > MAX_STATEMENTS:
        raise StatementBatchError(
            {"non_field_errors": [f"Send at most {MAX_STATEMENTS:,} statements per batch; split the rest."]}
        )
    now = timezone.now()
    results = [StatementResult(index=index, statement_id=None) for index in range(len(statements))]
    parsed: dict[int, _Parsed] = {}
    seen: dict[uuid.UUID, int] = {}
    for index, statement in enumerate(statements):
        row = _parse(statement, results[index], now)
        if row is None:
            continue
        first = seen.setdefault(row.statement_id, index)
        if first != index:
            results[index].reject("id", f"The same statement id is already in this batch at index {first}.")
            continue
        parsed[index] = row

    partners = Partner.objects.actionable_by(principal, "send_facts")
    people: dict[str, list[Person]] = {}
    # Emails are stored as given; compare them without case (one query for the batch).
    for person in (
        Person.objects.annotate(email_lower=Lower("email"))
        .filter(partner__in=partners, is_active=True, email_lower__in={row.email for row in parsed.values()})
        .order_by("pk")
    ):
        people.setdefault(person.email.lower(), []).append(person)
    courses = {
        course.xapi_activity_id: course
        for course in Course.objects.filter(
            is_active=True, xapi_activity_id__in={row.activity_id for row in parsed.values()}
        ).select_related("completion_activity_type")
    }
    stored = {
        completion.statement_id: completion
        for completion in Completion.objects.filter(
            statement_id__in=[row.statement_id for row in parsed.values()]
        ).select_related("person")
    }
    actor = principal_user(principal)
    with transaction.atomic():
        for index, row in parsed.items():
            result = results[index]
            existing = stored.get(row.statement_id)
            if existing is not None:
                if not partners.filter(pk=existing.person.partner_id).exists():
                    result.reject("id", "This statement id belongs to a record you may not change.")
                else:
                    result.result, result.id = "unchanged", existing.pk
                continue
            matches = people.get(row.email, [])
            course = courses.get(row.activity_id)
            if not matches:
                result.reject("actor", "No person with this email at a partner you may send facts for.")
            elif len(matches) > 1:
                result.reject("actor", "Several people have this email; the statement cannot choose one.")
            if course is None:
                result.reject("object", "No active course has this activity id.")
            if result.errors or course is None:
                continue
            completion, issued = completion_record(
                actor=actor,
                person=matches[0],
                course=course,
                completed_at=row.completed_at,
                score_percent=row.score_percent,
                source=CompletionSource.XAPI,
                statement_id=row.statement_id,
            )
            result.result, result.id = "created", completion.pk
            result.certifications = [certification.pk for certification in issued]
    counts = {"created": 0, "unchanged": 0, "rejected": 0}
    for result in results:
        counts[result.result] += 1
    return {"received": len(results), **counts, "results": [result.as_dict() for result in results]}
