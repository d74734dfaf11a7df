"""The charts of the channel manager's summary, each with the rows of its data table.

Every figure is one grouped query over the manager's ``visible_to`` querysets, so the
summary costs the same number of queries whatever the number of partners, deals or
periods. A chart's data is a spec for ``static/js/analytics-charts.js``; the rows
beside it carry the same figures, exact, for reading and for screen readers.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from core.money import round_money
from deals.models import UNDER_REVIEW, Deal, DealStatus, MdfPeriod
from gates.models import GateOutcome, GateStatusChange
from partners.models import Partner
from portal.selectors import ManagerSummary, TargetRow, main_program, target_rows

MONTHS = 12  # gates passed: this month and the eleven before it
CLOSEST = 10  # partners listed as closest to their next tier

# The pipeline's states in the order a registration moves through them.
PIPELINE_STATES = [
    ("submitted", DealStatus.SUBMITTED.label),
    ("under_review", UNDER_REVIEW),
    ("approved", DealStatus.APPROVED.label),
    ("won", DealStatus.WON.label),
    ("lost", DealStatus.LOST.label),
    ("rejected", DealStatus.REJECTED.label),
    ("expired", DealStatus.EXPIRED.label),
]


@dataclass
class SummaryCharts:
    tiers: dict[str, Any]
    passed: dict[str, Any]
    passed_rows: list[tuple[datetime.date, int]]
    pipeline: dict[str, Any]
    pipeline_rows: list[dict[str, Any]]
    mdf: dict[str, Any]
    mdf_rows: list[dict[str, Any]]
    closest: list[TargetRow]


def _months(as_of: datetime.date) -> list[datetime.date]:
    first = as_of.replace(day=1)
    months = [first]
    while len(months) < MONTHS:
        previous = months[-1] - datetime.timedelta(days=1)
        months.append(previous.replace(day=1))
    return months[::-1]


def _amounts(by_currency: dict[str, Decimal]) -> str:
    """Money in several currencies, each rounded once: "120,000.00 EUR · 5,000.00 USD"."""
    return " · ".join(
        f"{round_money(amount, currency):,} {currency}" for currency, amount in sorted(by_currency.items())
    )


def _tier_chart(summary: ManagerSummary) -> dict[str, Any]:
    rows = [*summary.by_tier[::-1], {"name": "No tier", "n": summary.no_tier}]
    return {
        "id": "summary-tiers",
        "type": "bar",
        "labels": [row["name"] for row in rows],
        "datasets": [{"label": "Partners", "data": [row["n"] for row in rows]}],
    }


def _passed(user, as_of: datetime.date) -> tuple[dict[str, Any], list[tuple[datetime.date, int]]]:
    months = _months(as_of)
    counts = {
        row["month"].date() if isinstance(row["month"], datetime.datetime) else row["month"]: row["n"]
        for row in GateStatusChange.objects.visible_to(user)
        .filter(to_status=GateOutcome.PASSED, changed_at__date__gte=months[0])
        .annotate(month=TruncMonth("changed_at"))
        .order_by()
        .values("month")
        .annotate(n=Count("id"))
    }
    rows = [(month, counts.get(month, 0)) for month in months]
    chart = {
        "id": "summary-passed",
        "type": "line",
        "labels": [month.strftime("%b %Y") for month in months],
        "datasets": [{"label": "Gates passed", "data": [n for _, n in rows]}],
    }
    return chart, rows


def _pipeline(user) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    counts: dict[str, int] = defaultdict(int)
    values: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in (
        Deal.objects.visible_to(user)
        .order_by()
        .values("status", "needs_review", "currency")
        .annotate(n=Count("id"), value=Sum("expected_value"))
    ):
        state = (
            "under_review" if row["status"] == DealStatus.SUBMITTED and row["needs_review"] else row["status"]
        )
        counts[state] += row["n"]
        values[state][row["currency"]] += row["value"] or Decimal(0)
    rows = [
        {"state": state, "label": label, "deals": counts[state], "value": _amounts(values[state])}
        for state, label in PIPELINE_STATES
    ]
    chart = {
        "id": "summary-pipeline",
        "type": "bar",
        "labels": [row["label"] for row in rows],
        "datasets": [{"label": "Registrations", "data": [row["deals"] for row in rows]}],
    }
    return chart, rows


def _mdf(user, as_of: datetime.date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The allowances of the periods running today, per currency, against what they paid for."""
    totals = (
        MdfPeriod.objects.visible_to(user)
        .filter(starts_on__lte=as_of, ends_on__gte=as_of)
        .order_by("currency")
        .values("currency")
        .annotate(
            partners=Count("partner", distinct=True),
            allowance=Sum("allowance"),
            approved=Sum("approved"),
            spent=Sum("claimed") + Sum("paid"),
        )
    )
    rows = [
        {
            "currency": row["currency"],
            "partners": row["partners"],
            "allowance": round_money(row["allowance"], row["currency"]),
            "approved": round_money(row["approved"], row["currency"]),
            "spent": round_money(row["spent"], row["currency"]),
        }
        for row in totals
    ]
    chart = {
        "id": "summary-mdf",
        "type": "bar",
        "labels": [row["currency"] for row in rows],
        "datasets": [
            {"label": "Allowance", "data": [row["allowance"] for row in rows]},
            {"label": "Approved, not yet claimed", "data": [row["approved"] for row in rows]},
            {"label": "Spent (claimed or paid)", "data": [row["spent"] for row in rows]},
        ],
    }
    return chart, rows


def closest_to_next_tier(user, partners: QuerySet[Partner], *, as_of: datetime.date) -> list[TargetRow]:
    """The partners nearest to the gate of their next tier: fewest criteria to go, then furthest along."""
    rows = [
        row
        for row in target_rows(user, list(partners.order_by("name", "id")), main=main_program(), as_of=as_of)
        if row.next_gate is not None and row.total
    ]
    rows.sort(key=lambda row: (row.total - row.met, -row.progress, row.partner.name, row.partner.pk))
    return rows[:CLOSEST]


def summary_charts(user, summary: ManagerSummary, *, as_of: datetime.date | None = None) -> SummaryCharts:
    """The summary's charts for the partners ``user`` covers; seven queries whatever the data."""
    as_of = as_of or timezone.localdate()
    passed, passed_rows = _passed(user, as_of)
    pipeline, pipeline_rows = _pipeline(user)
    mdf, mdf_rows = _mdf(user, as_of)
    return SummaryCharts(
        tiers=_tier_chart(summary),
        passed=passed,
        passed_rows=passed_rows,
        pipeline=pipeline,
        pipeline_rows=pipeline_rows,
        mdf=mdf,
        mdf_rows=mdf_rows,
        closest=closest_to_next_tier(user, Partner.objects.visible_to(user), as_of=as_of),
    )
