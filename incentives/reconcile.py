"""Reconciliation: recompute every partner's earnings from the rules and facts and compare with the ledger.

It uses the calculation's own planning (``services.plan_partners`` and
``services.plan_spif``) without writing, so that a difference means the ledger
and the rules disagree today: a calculation that did not run (a missed
signal), a fact or a rule changed since (the next calculation corrects it), or
an entry written by hand. A finance team runs it before each payout.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from incentives import engine, ledger, services
from incentives.models import IncentiveRule, LedgerEntry
from partners.models import Partner


@dataclass
class Difference:
    key: engine.Key
    currency: str
    ledger: Decimal
    expected: Decimal
    reason: str = ""

    @property
    def difference(self) -> Decimal:
        return self.expected - self.ledger

    def as_dict(self) -> dict:
        return {
            "partner": self.key.partner_id,
            "rule": self.key.rule_id,
            "source": f"{self.key.source_type}:{self.key.source_id}",
            "component": self.key.component,
            "currency": self.currency,
            "ledger": format(self.ledger, "f"),
            "expected": format(self.expected, "f"),
            "difference": format(self.difference, "f"),
        }


@dataclass
class Report:
    as_of: datetime.date
    entries: int = 0
    keys: int = 0
    total: dict[str, Decimal] = field(default_factory=dict)
    expected_total: dict[str, Decimal] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    problems: list[engine.Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.problems

    def summary(self) -> dict:
        def shown(totals: dict[str, Decimal]) -> dict[str, str]:
            return {
                currency: format(engine.round_amount(amount, currency), "f")
                for currency, amount in sorted(totals.items())
            }

        return {
            "as_of": str(self.as_of),
            "entries": self.entries,
            "keys": self.keys,
            "total": shown(self.total),
            "expected_total": shown(self.expected_total),
            "differences": len(self.differences),
            "difference_total": {
                currency: format(amount, "f")
                for currency, amount in sorted(self._difference_totals().items())
            },
            "problems": len(self.problems),
            "ok": self.ok,
        }

    def _difference_totals(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for difference in self.differences:
            totals[difference.currency] += difference.difference
        return dict(totals)


def _compare(plan: services.Plan, report: Report) -> Iterator[Difference]:
    for key in sorted(plan):
        expected, key_ledger = plan[key]
        report.keys += 1
        if expected is not None and expected.amount:
            report.expected_total[expected.currency] = (
                report.expected_total.get(expected.currency, Decimal(0)) + expected.amount
            )
        nets = key_ledger.nets() if key_ledger else {}
        for currency, amount in ledger.corrections(expected, key_ledger):
            before = nets.get(currency, Decimal(0))
            yield Difference(
                key=key,
                currency=currency,
                ledger=before,
                expected=before + amount,
                reason=expected.reason if expected else "",
            )


def reconcile(*, as_of: datetime.date | None = None, partner_ids: frozenset[int] | None = None) -> Report:
    """Everything the rules say against everything the ledger holds (optionally for some partners)."""
    as_of = as_of or timezone.localdate()
    report = Report(as_of=as_of)
    context = services.load_context(as_of=as_of)
    scope = services.Scope(partner_ids=partner_ids)
    for batch in services.partner_chunks(partner_ids):
        plan, problems = services.plan_partners(context, scope, batch)
        report.differences.extend(_compare(plan, report))
        report.problems.extend(problems)
    for rule in context.spif_rules:
        plan, problems = services.plan_spif(context, rule)
        if partner_ids is not None:
            plan = {key: value for key, value in plan.items() if key.partner_id in partner_ids}
            problems = [problem for problem in problems if problem.partner_id in partner_ids]
        report.differences.extend(_compare(plan, report))
        report.problems.extend(problems)
    entries = LedgerEntry.objects.all()
    if partner_ids is not None:
        entries = entries.filter(partner_id__in=partner_ids)
    report.entries = entries.count()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in entries.order_by().values_list("currency", "amount").iterator(chunk_size=5000):
        totals[currency] += amount
    report.total = dict(totals)
    return report


def _shown(amount: Decimal, currency: str) -> str:
    return f"{engine.round_amount(amount, currency):f} {currency}"


def describe(difference: Difference, partners: dict[int, str], rules: dict[int, str]) -> str:
    key = difference.key
    sign = "+" if difference.difference > 0 else ""
    text = (
        f"{partners.get(key.partner_id, key.partner_id)} · {rules.get(key.rule_id, key.rule_id)} · "
        f"{key.source_type} {key.source_id} · {key.component}: ledger {_shown(difference.ledger, difference.currency)}, "
        f"rules say {_shown(difference.expected, difference.currency)} "
        f"(difference {sign}{engine.round_amount(difference.difference, difference.currency):f})"
    )
    if difference.reason:
        text += f" – {difference.reason}"
    return text


def names_for(report: Report) -> tuple[dict[int, str], dict[int, str]]:
    partner_ids = {difference.key.partner_id for difference in report.differences}
    partner_ids |= {problem.partner_id for problem in report.problems if problem.partner_id}
    rule_ids = {difference.key.rule_id for difference in report.differences}
    rule_ids |= {problem.rule_id for problem in report.problems}
    partners = dict(Partner.objects.filter(id__in=partner_ids).values_list("id", "name"))
    rules = dict(IncentiveRule.objects.filter(id__in=rule_ids).values_list("id", "name"))
    return partners, rules
