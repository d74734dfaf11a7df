"""The portal's lists: for each, the filters its URL takes and the table it shows and exports.

Each FilterSet only narrows a queryset the view already took through the one
door; the choices it offers (tiers, certification types) are read through the
same door, so a filter never names what the viewer may not see.
"""

import re
from typing import Any

import django_filters as filters
import django_tables2 as tables
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.filters import DateFilter
from core.money import round_money
from deals.models import Deal, DealStatus, MdfActivityKind, MdfRequest, MdfStatus
from incentives.templatetags.incentives import money
from partners.models import (
    Certification,
    CertificationType,
    LifecycleStatus,
    Partner,
    Person,
    ProductLine,
    Region,
)
from portal import selectors
from portal.access import viewer_for
from portal.tables import PortalTable, SearchFilterSet
from programs.models import Tier

NUM = {"th": {"class": "num"}, "td": {"class": "num"}}
YOU = mark_safe(' <span class="badge">you</span>')


def _amount(value, currency: str) -> str:
    return "–" if value is None else f"{round_money(value, currency):,f} {currency}"


def _money(value, currency: str):
    """An amount for the CSV: a number to the currency's minor unit (JPY has none)."""
    return None if value is None else round_money(value, currency)


def _day(value) -> str:
    return date_format(value, "j M Y") if value else "–"


class ReferenceSearch(SearchFilterSet):
    """Search that also finds a record by its reference (DR-00012, MDF-7)."""

    reference_prefix = ""

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        match = re.fullmatch(rf"\s*{self.reference_prefix}-?0*(\d{{1,9}})\s*", value, re.IGNORECASE)
        if self.reference_prefix and match:
            return queryset.filter(pk=int(match.group(1)))
        return super().search(queryset, name, value)


def _drop_for_partners(filterset: filters.FilterSet, *names: str) -> None:
    """A partner user sees only its own organisation: filters across partners mean nothing to it."""
    if filterset.request is not None and viewer_for(filterset.request).kind == "partner":
        for name in names:
            filterset.filters.pop(name, None)


# --- deal registrations -----------------------------------------------------------------------


class DealListFilterSet(ReferenceSearch):
    search_fields = ("customer_name", "customer_domain", "partner__name")
    reference_prefix = "DR"

    status = filters.ChoiceFilter(choices=DealStatus.choices, empty_label="All")
    product_line = filters.ModelChoiceFilter(
        field_name="products",
        queryset=ProductLine.objects.order_by("name"),
        label="Product line",
        empty_label="All",
    )
    region = filters.ChoiceFilter(field_name="partner__region", choices=Region.choices, empty_label="All")
    registered_after = DateFilter(field_name="registered_on", lookup_expr="gte", label="Registered from")
    registered_before = DateFilter(field_name="registered_on", lookup_expr="lte", label="Registered until")

    class Meta:
        model = Deal
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _drop_for_partners(self, "region")


class DealTable(PortalTable):
    caption = "Deal registrations"

    reference = tables.Column(accessor="pk", verbose_name="Registration", order_by=("id",))
    partner = tables.Column(accessor="partner__name", verbose_name="Partner")
    customer = tables.Column(accessor="customer_name", verbose_name="Customer")
    customer_domain = tables.Column(verbose_name="Customer domain", visible=False)
    products = tables.ManyToManyColumn(verbose_name="Product lines", orderable=False)
    expected_value = tables.Column(verbose_name="Expected value", attrs=NUM)
    currency = tables.Column(verbose_name="Currency", visible=False)
    expected_close = tables.Column(verbose_name="Expected close")
    status = tables.Column(verbose_name="Status")
    registered_on = tables.Column(verbose_name="Registered")
    protected_until = tables.Column(verbose_name="Protected until", default="–")

    class Meta(PortalTable.Meta):
        empty_text = "No registrations."

    def __init__(self, *args, viewer=None, **kwargs):
        self.viewer = viewer
        super().__init__(*args, **kwargs)

    def render_reference(self, record: Deal):
        return format_html(
            '<a href="{}">{}</a>', reverse("portal:deal_detail", args=[record.pk]), record.reference
        )

    def value_reference(self, record: Deal) -> str:
        return record.reference

    def render_customer(self, record: Deal):
        return format_html(
            '{}<br><span class="muted small">{}</span>', record.customer_name, record.customer_domain
        )

    def render_expected_value(self, record: Deal) -> str:
        return _amount(record.expected_value, record.currency)

    def value_expected_value(self, record: Deal):
        return _money(record.expected_value, record.currency)

    def render_status(self, record: Deal) -> str:
        return render_to_string("portal/deals/_status.html", {"deal": record, "viewer": self.viewer})

    def value_status(self, record: Deal) -> str:
        return record.status_label

    def render_expected_close(self, value) -> str:
        return _day(value)

    def render_registered_on(self, value) -> str:
        return _day(value)

    def render_protected_until(self, value) -> str:
        return _day(value)


# --- MDF requests -----------------------------------------------------------------------------


class MdfListFilterSet(ReferenceSearch):
    search_fields = ("title", "partner__name")
    reference_prefix = "MDF"

    status = filters.ChoiceFilter(choices=MdfStatus.choices, empty_label="All")
    activity_kind = filters.ChoiceFilter(choices=MdfActivityKind.choices, label="Activity", empty_label="All")
    region = filters.ChoiceFilter(field_name="partner__region", choices=Region.choices, empty_label="All")
    starts_after = DateFilter(field_name="starts_on", lookup_expr="gte", label="Activity from")
    ends_before = DateFilter(field_name="ends_on", lookup_expr="lte", label="Activity until")

    class Meta:
        model = MdfRequest
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _drop_for_partners(self, "region")


class MdfTable(PortalTable):
    caption = "MDF requests"

    reference = tables.Column(accessor="pk", verbose_name="Request", order_by=("id",))
    partner = tables.Column(accessor="partner__name", verbose_name="Partner")
    title = tables.Column(verbose_name="Activity")
    activity_kind = tables.Column(verbose_name="Kind", visible=False)
    starts_on = tables.Column(verbose_name="Starts")
    ends_on = tables.Column(verbose_name="Ends", visible=False)
    amount = tables.Column(verbose_name="Requested", attrs=NUM)
    approved_amount = tables.Column(verbose_name="Approved", attrs=NUM, default="–")
    claimed_amount = tables.Column(verbose_name="Claimed", attrs=NUM, default="–")
    currency = tables.Column(verbose_name="Currency", visible=False)
    status = tables.Column(verbose_name="Status")

    class Meta(PortalTable.Meta):
        empty_text = "No requests."

    def render_reference(self, record: MdfRequest):
        return format_html(
            '<a href="{}">{}</a>', reverse("portal:mdf_detail", args=[record.pk]), record.reference
        )

    def value_reference(self, record: MdfRequest) -> str:
        return record.reference

    def render_title(self, record: MdfRequest):
        return format_html(
            '{}<br><span class="muted small">{} – {}</span>',
            record.title,
            date_format(record.starts_on, "j M"),
            date_format(record.ends_on, "j M Y"),
        )

    def render_starts_on(self, value) -> str:
        return _day(value)

    def render_amount(self, record: MdfRequest) -> str:
        return _amount(record.amount, record.currency)

    def render_approved_amount(self, record: MdfRequest) -> str:
        return _amount(record.approved_amount, record.currency)

    def render_claimed_amount(self, record: MdfRequest) -> str:
        return _amount(record.claimed_amount, record.currency)

    def value_amount(self, record: MdfRequest):
        return _money(record.amount, record.currency)

    def value_approved_amount(self, record: MdfRequest):
        return _money(record.approved_amount, record.currency)

    def value_claimed_amount(self, record: MdfRequest):
        return _money(record.claimed_amount, record.currency)

    def render_status(self, record: MdfRequest):
        return format_html(
            '<span class="badge status-{}">{}</span>', record.status, record.get_status_display()
        )

    def value_status(self, record: MdfRequest) -> str:
        return record.get_status_display()

    def value_activity_kind(self, record: MdfRequest) -> str:
        return record.get_activity_kind_display()


# --- partners, for distributors and channel managers --------------------------------------------


class PartnerListFilterSet(SearchFilterSet):
    search_fields = ("name",)

    tier = filters.ModelChoiceFilter(
        queryset=Tier.objects.none(), method="filter_tier", label="Tier", empty_label="All"
    )
    region = filters.ChoiceFilter(choices=Region.choices, empty_label="All")
    status = filters.ChoiceFilter(choices=LifecycleStatus.choices, empty_label="All")
    joined_after = DateFilter(field_name="joined_on", lookup_expr="gte", label="Joined from")
    joined_before = DateFilter(field_name="joined_on", lookup_expr="lte", label="Joined until")

    class Meta:
        model = Partner
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only tiers the viewer's partners hold where it may see them (the partners table's rule).
        user = self.request.user if self.request is not None else None
        self.filters["tier"].queryset = (
            Tier.objects.filter(pk__in=selectors.held_tiers(user).values("tier_id"))
            .select_related("program")
            .order_by("program__name", "rank")
        )

    def filter_tier(self, queryset: QuerySet, name: str, value: Tier) -> QuerySet:
        held = selectors.held_tiers(self.request.user if self.request else None).filter(tier=value)
        return queryset.filter(pk__in=held.values("partner_id"))


def _tier_label(tier: Tier) -> str:
    return f"{tier.name} ({tier.program.name})"


class PartnerTable(PortalTable):
    caption = "Partners"

    name = tables.Column(verbose_name="Partner")
    country = tables.Column(verbose_name="Country")
    region = tables.Column(verbose_name="Region")
    tier = tables.Column(accessor="pk", verbose_name="Tier", orderable=False)
    status = tables.Column(verbose_name="Status", visible=False)
    joined_on = tables.Column(verbose_name="Joined", visible=False)
    passed = tables.Column(verbose_name="Gates passed", attrs=NUM)
    awaiting = tables.Column(verbose_name="Deals awaiting your approval", attrs=NUM)

    class Meta(PortalTable.Meta):
        empty_text = "No partners."

    def __init__(self, *args, viewer=None, **kwargs):
        self.viewer = viewer
        super().__init__(*args, **kwargs)

    def render_name(self, record: Any):
        return format_html(
            '<a href="{}">{}</a>', reverse("portal:partner_detail", args=[record.pk]), record.name
        )

    def render_country(self, record: Any) -> str:
        return record.country.name

    def value_country(self, record: Any) -> str:
        return record.country.code

    def render_region(self, record: Any) -> str:
        return record.get_region_display()

    def render_tier(self, record: Any):
        held = record.held_tiers
        if not held:
            return mark_safe('<span class="muted">No tier</span>')
        return format_html_join(
            ", ",
            "{}{}",
            (
                (
                    row.tier.name,
                    format_html(
                        ' <span class="badge warn">grace until {}</span>', date_format(row.grace_until, "j M")
                    )
                    if row.grace_until
                    else "",
                )
                for row in held
            ),
        )

    def value_tier(self, record: Any) -> str:
        return "; ".join(f"{row.program.name}: {row.tier.name}" for row in record.held_tiers)

    def render_awaiting(self, record: Any):
        if self.viewer is not None and self.viewer.kind == "distributor" and record.under_review:
            return format_html(
                '{}<br><span class="muted small">{} under review, the vendor decides</span>',
                record.awaiting,
                record.under_review,
            )
        return str(record.awaiting)

    def value_awaiting(self, record: Any) -> int:
        return record.awaiting


# --- the partner's team ---------------------------------------------------------------------------


class TeamFilterSet(SearchFilterSet):
    search_fields = ("first_name", "last_name", "email", "job_title")

    certification = filters.ModelChoiceFilter(
        queryset=CertificationType.objects.none(),
        method="filter_certification",
        label="Holds certification",
        empty_label="Any",
    )

    class Meta:
        model = Person
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only kinds the viewer sees someone hold: a colleague's stays a partner admin's to know.
        seen = Certification.objects.visible_to(self.request.user if self.request else None)
        self.filters["certification"].queryset = CertificationType.objects.filter(
            pk__in=seen.values("certification_type_id")
        ).order_by("name")

    def filter_certification(self, queryset: QuerySet, name: str, value: CertificationType) -> QuerySet:
        # Only certifications the viewer may see: a colleague's stay a partner admin's to know.
        seen = Certification.objects.visible_to(self.request.user if self.request else None)
        return queryset.filter(pk__in=seen.filter(certification_type=value).values("person_id"))


class TeamTable(PortalTable):
    caption = "People and their certifications"

    name = tables.Column(accessor="last_name", verbose_name="Name", order_by=("last_name", "first_name"))
    job_title = tables.Column(verbose_name="Job title", default="–")
    email = tables.Column(verbose_name="Email")
    certifications = tables.Column(accessor="pk", verbose_name="Certifications", orderable=False)

    class Meta(PortalTable.Meta):
        empty_text = "No people recorded yet."

    def __init__(self, *args, user=None, full=False, today=None, soon=None, renewals=None, **kwargs):
        self.user, self.full, self.today, self.soon = user, full, today, soon
        self.renewals = renewals or {}
        if not full:
            kwargs["exclude"] = ("email",)
        super().__init__(*args, **kwargs)

    def _sees(self, person: Person) -> bool:
        return self.full or (self.user is not None and person.user_id == self.user.pk)

    def render_name(self, record: Person):
        you = self.user is not None and record.user_id == self.user.pk
        return format_html(
            "{} {}{}",
            record.first_name,
            record.last_name,
            YOU if you else "",
        )

    def value_name(self, record: Person) -> str:
        return f"{record.first_name} {record.last_name}"

    def render_email(self, value: str):
        return format_html('<a href="mailto:{}">{}</a>', value, value)

    def render_certifications(self, record: Person) -> str:
        return render_to_string(
            "portal/tables/_certifications.html",
            {
                "person": record,
                "sees": self._sees(record),
                "renewals": self.renewals.get(record.pk, []) if self._sees(record) else [],
                "today": self.today,
                "soon": self.soon,
            },
        )

    def value_certifications(self, record: Person) -> str:
        if not self._sees(record):
            return ""
        return "; ".join(
            f"{cert.certification_type.name} ({cert.expires_on.isoformat() if cert.expires_on else 'no expiry'})"
            for cert in record.certifications.all()  # door: prefetched through visible_to (selectors.team)
        )


# --- the manager's partners against their targets ---------------------------------------------------


class TargetsFilterSet(PartnerListFilterSet):
    pass


class TargetsTable(PortalTable):
    caption = "Each partner's tier and how many criteria of the gate to its next tier it meets"

    name = tables.Column(verbose_name="Partner")
    tier = tables.Column(verbose_name="Tier")
    next_gate = tables.Column(verbose_name="Next tier gate", empty_values=())
    met = tables.Column(verbose_name="Criteria of that gate met", empty_values=())
    total = tables.Column(verbose_name="Criteria of that gate", visible=False)
    to_go = tables.Column(verbose_name="Criteria to go", attrs=NUM, empty_values=())

    class Meta(PortalTable.Meta):
        empty_text = "No partners."

    def render_name(self, record: dict):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("portal:partner_detail", args=[record["partner"].pk]),
            record["name"],
        )

    def render_tier(self, record: dict):
        if record["in_grace_until"]:
            return format_html(
                '{} <span class="badge warn">grace until {}</span>',
                record["tier"],
                date_format(record["in_grace_until"], "j M"),
            )
        return record["tier"]

    def render_next_gate(self, record: dict):
        return record["next_gate"] or mark_safe('<span class="muted">Top tier</span>')

    def render_met(self, record: dict):
        if not record["next_gate"]:
            return "–"
        return format_html(
            '{} of {} <progress max="{}" value="{}" aria-label="{}: {} of {} criteria of the {} gate met">'
            "{} of {}</progress>",
            record["met"],
            record["total"],
            record["total"],
            record["met"],
            record["name"],
            record["met"],
            record["total"],
            record["unlocks"],
            record["met"],
            record["total"],
        )

    def render_to_go(self, record: dict) -> str:
        return str(record["to_go"]) if record["next_gate"] else "–"


# --- incentive statements ----------------------------------------------------------------------------


class StatementsFilterSet(SearchFilterSet):
    search_fields = ("name",)

    region = filters.ChoiceFilter(choices=Region.choices, empty_label="All")
    status = filters.ChoiceFilter(choices=LifecycleStatus.choices, empty_label="All")

    class Meta:
        model = Partner
        fields: list[str] = []


class StatementsTable(PortalTable):
    name = tables.Column(verbose_name="Partner")
    earned = tables.Column(accessor="pk", verbose_name="Earned", orderable=False, attrs=NUM)
    payable = tables.Column(accessor="pk", verbose_name="Payable now", orderable=False, attrs=NUM)
    statement = tables.Column(
        accessor="pk", verbose_name="Statement", orderable=False, exclude_from_export=True
    )

    class Meta(PortalTable.Meta):
        empty_text = "No partners."

    def __init__(self, *args, period, **kwargs):
        self.period = period
        self.caption = f"Each partner's earnings in {period.label} and what is payable now"
        self.rows_by_partner: dict = {}
        super().__init__(*args, **kwargs)
        self.columns["earned"].column.verbose_name = f"Earned in {period.label}"

    def _sums(self, record: Partner, which: str) -> dict:
        row = self.rows_by_partner.get(record.pk)
        return getattr(row, which) if row else {}

    def _render_sums(self, sums: dict):
        if not sums:
            return mark_safe('<span class="muted">–</span>')
        return format_html_join(
            format_html("<br>"),
            '<span class="{}">{}</span>',
            (
                ("negative" if amount < 0 else "", money(amount, currency))
                for currency, amount in sums.items()
            ),
        )

    def render_earned(self, record: Partner):
        return self._render_sums(self._sums(record, "totals"))

    def render_payable(self, record: Partner):
        return self._render_sums(self._sums(record, "payable"))

    def value_earned(self, record: Partner) -> str:
        return "; ".join(
            f"{amount:f} {currency}" for currency, amount in self._sums(record, "totals").items()
        )

    def value_payable(self, record: Partner) -> str:
        return "; ".join(
            f"{amount:f} {currency}" for currency, amount in self._sums(record, "payable").items()
        )

    def render_statement(self, record: Partner):
        return format_html(
            '<a href="{}">Statement<span class="visually-hidden"> of {}</span></a>',
            reverse("incentives:statement", args=[record.pk, self.period.code]),
            record.name,
        )
