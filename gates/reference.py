"""The naive reference evaluation: one partner at a time, leaf by leaf, with plain ORM queries.

It shares nothing with ``gates.engine`` but the criteria language, and
converts money from ``ExchangeRate`` directly rather than from the daily
table. Tests and the benchmark assert that both give the same results; it is
far too slow for production (a query per leaf per partner).
"""

import datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from core.exchange import rate_on
from core.money import round_money
from criteria.tree import Criteria, Leaf, evaluate
from criteria.windows import Window
from enablement.models import Completion
from gates.metrics import References, money_currency, months_between
from gates.models import PartnerTier
from partners.models import Certification, EngagementActivity, Partner, Sale, ServiceProficiency


def _window_filter(field: str, leaf: Leaf, as_of: datetime.date) -> Q:
    window = leaf.params.get("window") or Window()
    start, end = window.bounds(as_of)
    condition = Q(**{f"{field}__lte": end})
    if start is not None:
        condition &= Q(**{f"{field}__gte": start})
    return condition


def measure_leaf(leaf: Leaf, partner: Partner, as_of: datetime.date, refs: References) -> Any:
    params = leaf.params
    if leaf.metric == "certified_people":
        certifications = Certification.objects.filter(
            person__partner=partner, person__is_active=True, issued_on__lte=as_of
        ).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
        if params.get("certification_types"):
            certifications = certifications.filter(certification_type__code__in=params["certification_types"])
        if params.get("tracks"):
            certifications = certifications.filter(certification_type__track__in=params["tracks"])
        if params.get("advanced_only"):
            certifications = certifications.filter(certification_type__is_advanced=True)
        certifications = certifications.filter(_window_filter("issued_on", leaf, as_of))
        return certifications.values("person_id").distinct().count()
    if leaf.metric == "certifications":
        held = Certification.objects.filter(
            person__partner=partner, person__is_active=True, issued_on__lte=as_of
        ).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
        if params.get("certification_types"):
            held = held.filter(certification_type__code__in=params["certification_types"])
        if params.get("tracks"):
            held = held.filter(certification_type__track__in=params["tracks"])
        if params.get("advanced_only"):
            held = held.filter(certification_type__is_advanced=True)
        held = held.filter(_window_filter("issued_on", leaf, as_of))
        if params.get("distinct_types"):
            return held.values("certification_type_id").distinct().count()
        return held.count()
    if leaf.metric in {"sales_amount", "won_deals"}:
        sales = Sale.objects.filter(partner=partner).filter(_window_filter("closed_on", leaf, as_of))
        if params.get("product_lines"):
            sales = sales.filter(product_line__code__in=params["product_lines"])
        if params.get("regions"):
            sales = sales.filter(region__in=params["regions"])
        if params.get("countries"):
            sales = sales.filter(country__in=params["countries"])
        if params.get("customer_segments"):
            sales = sales.filter(customer_segment__code__in=params["customer_segments"])
        if leaf.metric == "won_deals":
            return sales.count()
        target = money_currency(leaf)
        total = Decimal(0)
        for amount, currency, day in sales.values_list("amount", "currency", "closed_on"):
            from_rate, to_rate = rate_on(currency, day), rate_on(target, day)
            if from_rate is None or to_rate is None:
                continue
            total += Decimal(amount) * from_rate / to_rate
        return round_money(total, target)
    if leaf.metric == "engagement_points":
        activities = EngagementActivity.objects.filter(partner=partner).filter(
            _window_filter("occurred_on", leaf, as_of)
        )
        if params.get("activity_types"):
            activities = activities.filter(activity_type__code__in=params["activity_types"])
        return sum(activities.values_list("points", flat=True))
    if leaf.metric == "service_offerings":
        proficiencies = ServiceProficiency.objects.filter(
            partner=partner, level__gte=params.get("min_level", 1), since__lte=as_of
        )
        if params.get("offerings"):
            proficiencies = proficiencies.filter(offering__code__in=params["offerings"])
        return proficiencies.values("offering_id").distinct().count()
    if leaf.metric == "registered_deals":
        # Deals sit above the gates: named by label, never imported (as in gates.metrics).
        deals = apps.get_model("deals", "Deal").objects.filter(
            partner=partner, status__in=params.get("statuses") or ("approved", "won")
        )
        if params.get("countries"):
            deals = deals.filter(country__in=params["countries"])
        if params.get("customer_segments"):
            deals = deals.filter(customer_segment__code__in=params["customer_segments"])
        return deals.filter(_window_filter("registered_on", leaf, as_of)).count()
    if leaf.metric in {"course_completions", "learning_hours"}:
        start, end = (params.get("window") or Window()).bounds(as_of)
        local = timezone.get_current_timezone()
        completions = Completion.objects.filter(person__partner=partner, person__is_active=True)
        if params.get("courses"):
            completions = completions.filter(course__code__in=params["courses"])
        if params.get("tracks"):
            completions = completions.filter(course__track__in=params["tracks"])
        if params.get("product_lines"):
            completions = completions.filter(course__product_lines__code__in=params["product_lines"])
        pairs = {
            (person_id, course_id): minutes
            for person_id, course_id, minutes, completed_at in completions.values_list(
                "person_id", "course_id", "course__duration_minutes", "completed_at"
            )
            if (start is None or completed_at.astimezone(local).date() >= start)
            and completed_at.astimezone(local).date() <= end
        }
        if leaf.metric == "course_completions":
            return len(pairs)
        return sum(pairs.values()) // 60
    if leaf.metric == "partner_attribute":
        value = getattr(partner, params["attribute"])
        return str(value) if params["attribute"] == "country" else value
    if leaf.metric == "months_since_joining":
        return months_between(partner.joined_on, as_of)
    if leaf.metric == "current_tier":
        row = (
            PartnerTier.objects.filter(partner=partner, program__slug=params["program"], tier__isnull=False)
            .select_related("tier")
            .first()
        )
        return row.tier.rank if row is not None and row.tier is not None else 0
    raise ValueError(f"no reference measure for {leaf.metric}")


def evaluate_partner_naively(criteria: Criteria, partner: Partner, as_of: datetime.date, refs: References):
    return evaluate(criteria, [measure_leaf(leaf, partner, as_of, refs) for leaf in criteria.leaves])
