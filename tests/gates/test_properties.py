"""Property: the set-based evaluation equals the per-partner reference on random data and random trees.

Hypothesis generates partners with sales in several currencies, certifications
(some expired), activities and proficiencies, and criteria trees over every
metric and window; both evaluations must agree on every leaf value and every
decision. The CI profile runs at least 1,000 examples.
"""

import datetime
import os
from decimal import Decimal

from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from core.exchange import daily_rates_rebuild
from core.models import ExchangeRate
from criteria.tree import evaluate as evaluate_tree
from gates.engine import Measurer
from gates.metrics import load_references
from gates.reference import measure_leaf
from gates.validation import parse_criteria
from partners.models import (
    ActivityType,
    Certification,
    CertificationType,
    EngagementActivity,
    Partner,
    Person,
    ProductLine,
    Sale,
    ServiceOffering,
    ServiceProficiency,
)

settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

AS_OF = datetime.date(2026, 6, 15)
# Rates whose products and quotients with whole amounts are exact in binary or
# never sit on a half cent, so SQLite's floating-point sums round the same way
# as PostgreSQL's exact numerics.
RATES = [Decimal("0.5"), Decimal("0.75"), Decimal("1.25"), Decimal("1.5"), Decimal("2")]
CURRENCIES = ["USD", "EUR", "GBP"]
LINES = ["cloud", "security"]
REGIONS = ["emea", "apac"]
CERT_TYPES = ["sales-engineer", "architect"]
TRACKS = ["presales", "technical"]
ACTIVITY_TYPES = ["training", "webinar"]
OFFERINGS = ["migration", "audit", "mdr"]

days_back = st.integers(min_value=0, max_value=500)
windows = st.one_of(
    st.just({"kind": "all_time"}),
    st.builds(lambda d: {"kind": "rolling_days", "days": d}, st.integers(1, 400)),
    st.builds(lambda m: {"kind": "rolling_months", "months": m}, st.integers(1, 15)),
    st.builds(
        lambda kind, month: {"kind": kind, "fiscal_year_start_month": month},
        st.sampled_from(["quarter_to_date", "last_quarter", "year_to_date", "last_year"]),
        st.integers(1, 12),
    ),
)
numeric_ops = st.sampled_from([">=", ">", "<=", "<", "==", "!="])


def subset(values):
    return st.lists(st.sampled_from(values), unique=True, max_size=len(values))


def with_optional(base: dict, **optional) -> st.SearchStrategy:
    """``base`` plus any of the optional parameters, each present or absent."""
    parts = {name: st.one_of(st.none(), strategy) for name, strategy in optional.items()}
    return st.fixed_dictionaries(parts).map(
        lambda chosen: {**base, **{k: v for k, v in chosen.items() if v is not None and v != []}}
    )


leaves = st.one_of(
    st.tuples(numeric_ops, st.integers(0, 4)).flatmap(
        lambda t: with_optional(
            {"metric": "certified_people", "op": t[0], "target": t[1]},
            certification_types=subset(CERT_TYPES),
            tracks=subset(TRACKS),
            advanced_only=st.booleans(),
            window=windows,
        )
    ),
    st.tuples(numeric_ops, st.integers(0, 30000), st.sampled_from(CURRENCIES)).flatmap(
        lambda t: with_optional(
            {"metric": "sales_amount", "op": t[0], "target": str(t[1]), "currency": t[2]},
            window=windows,
            product_lines=subset(LINES),
            regions=subset(REGIONS),
        )
    ),
    st.tuples(numeric_ops, st.integers(0, 5)).flatmap(
        lambda t: with_optional(
            {"metric": "won_deals", "op": t[0], "target": t[1]},
            window=windows,
            product_lines=subset(LINES),
            regions=subset(REGIONS),
        )
    ),
    st.tuples(numeric_ops, st.integers(0, 100)).flatmap(
        lambda t: with_optional(
            {"metric": "engagement_points", "op": t[0], "target": t[1]},
            window=windows,
            activity_types=subset(ACTIVITY_TYPES),
        )
    ),
    st.tuples(numeric_ops, st.integers(0, 3)).flatmap(
        lambda t: with_optional(
            {"metric": "service_offerings", "op": t[0], "target": t[1]},
            min_level=st.integers(1, 3),
            offerings=subset(OFFERINGS),
        )
    ),
    st.builds(
        lambda attribute, op, target: {
            "metric": "partner_attribute",
            "attribute": attribute,
            "op": op,
            "target": target,
        },
        st.just("region"),
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from(REGIONS), min_size=1, unique=True),
    ),
    st.builds(
        lambda op, target: {"metric": "months_since_joining", "op": op, "target": target},
        numeric_ops,
        st.integers(0, 30),
    ),
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda child: {"not": child}, children),
    ),
    max_leaves=6,
)

sales = st.lists(
    st.tuples(
        st.integers(1, 20000),
        st.integers(0, 99),
        st.sampled_from(CURRENCIES),
        st.sampled_from(LINES),
        st.sampled_from(REGIONS),
        days_back,
    ),
    max_size=6,
)
people = st.lists(
    st.tuples(
        st.booleans(),  # active
        st.lists(
            st.tuples(st.sampled_from(CERT_TYPES), days_back, st.one_of(st.none(), st.integers(-200, 400))),
            max_size=2,
        ),
    ),
    max_size=4,
)
activities = st.lists(st.tuples(st.sampled_from(ACTIVITY_TYPES), st.integers(0, 40), days_back), max_size=4)
proficiencies = st.lists(
    st.tuples(st.sampled_from(OFFERINGS), st.integers(1, 3), days_back), max_size=3, unique_by=lambda p: p[0]
)
partners = st.lists(
    st.tuples(st.sampled_from(REGIONS), st.integers(0, 900), sales, people, activities, proficiencies),
    min_size=1,
    max_size=4,
)
rate_changes = st.lists(
    st.tuples(st.integers(0, 500), st.sampled_from(RATES)), min_size=1, max_size=3, unique_by=lambda r: r[0]
)


class SetBasedEqualsReference(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.lines = {code: ProductLine.objects.create(code=code, name=code) for code in LINES}
        cls.cert_types = {
            "sales-engineer": CertificationType.objects.create(
                code="sales-engineer", name="SE", track="presales"
            ),
            "architect": CertificationType.objects.create(
                code="architect", name="Arch", track="technical", is_advanced=True
            ),
        }
        cls.activity_types = {
            code: ActivityType.objects.create(code=code, name=code) for code in ACTIVITY_TYPES
        }
        cls.offerings = {code: ServiceOffering.objects.create(code=code, name=code) for code in OFFERINGS}

    def _rates(self, eur, gbp):
        for currency, changes in (("EUR", eur), ("GBP", gbp)):
            ExchangeRate.objects.bulk_create(
                ExchangeRate(currency=currency, valid_from=AS_OF - datetime.timedelta(days=back), rate=rate)
                for back, rate in changes
            )
            daily_rates_rebuild(currency)

    def _partners(self, data):
        exact_cents = connection.vendor == "postgresql"
        created = []
        for index, (
            region,
            joined_back,
            sale_rows,
            person_rows,
            activity_rows,
            proficiency_rows,
        ) in enumerate(data):
            partner = Partner.objects.create(
                name=f"P{index}",
                partner_type="var",
                business_model="resell",
                country="GB",
                region=region,
                status="active",
                joined_on=AS_OF - datetime.timedelta(days=joined_back),
            )
            created.append(partner)
            Sale.objects.bulk_create(
                Sale(
                    partner=partner,
                    amount=Decimal(units) + (Decimal(cents) / 100 if exact_cents else 0),
                    currency=currency,
                    product_line=self.lines[line],
                    region=sale_region,
                    closed_on=AS_OF - datetime.timedelta(days=back),
                )
                for units, cents, currency, line, sale_region, back in sale_rows
            )
            for number, (active, certs) in enumerate(person_rows):
                person = Person.objects.create(
                    partner=partner,
                    first_name="A",
                    last_name=str(number),
                    email=f"{number}@p{index}.example.com",
                    is_active=active,
                )
                for code, issued_back, valid_days in certs:
                    issued = AS_OF - datetime.timedelta(days=issued_back)
                    expires = (
                        None if valid_days is None else issued + datetime.timedelta(days=max(valid_days, 0))
                    )
                    Certification.objects.create(
                        person=person,
                        certification_type=self.cert_types[code],
                        issued_on=issued,
                        expires_on=expires,
                    )
            EngagementActivity.objects.bulk_create(
                EngagementActivity(
                    partner=partner,
                    activity_type=self.activity_types[code],
                    points=points,
                    occurred_on=AS_OF - datetime.timedelta(days=back),
                )
                for code, points, back in activity_rows
            )
            ServiceProficiency.objects.bulk_create(
                ServiceProficiency(
                    partner=partner,
                    offering=self.offerings[code],
                    level=level,
                    since=AS_OF - datetime.timedelta(days=back),
                )
                for code, level, back in proficiency_rows
            )
        return created

    @given(
        partners=partners,
        eur=rate_changes,
        gbp=rate_changes,
        criteria=st.lists(trees, min_size=1, max_size=3),
    )
    def test_set_based_evaluation_equals_the_per_partner_reference(self, partners, eur, gbp, criteria):
        self._rates(eur, gbp)
        created = self._partners(partners)
        refs = load_references()
        parsed = [parse_criteria(tree, default_currency="USD", references=refs) for tree in criteria]
        measurer = Measurer(parsed, as_of=AS_OF, references=refs)
        measured = measurer.measure(created[0].pk, created[-1].pk)
        assert set(measured) == {partner.pk for partner in created}
        for tree in parsed:
            keys = measurer.keys_for(tree)
            for partner in created:
                engine_values = [measured[partner.pk][key] for key in keys]
                reference_values = [measure_leaf(leaf, partner, AS_OF, refs) for leaf in tree.leaves]
                assert engine_values == reference_values, (tree.to_json(), partner.name)
                assert (
                    evaluate_tree(tree, engine_values).passed == evaluate_tree(tree, reference_values).passed
                )
