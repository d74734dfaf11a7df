"""The synthetic world of ``bench.gates``: its database, its partners and facts, its ten gates, and the floor.

Everything is written by PostgreSQL itself (``generate_series``), so that building 100,000 partners and
5,000,000 facts stays a matter of minutes.
"""

import os
import random
import sys
import time
from urllib.parse import urlparse, urlunparse

import psycopg

# The project's modules and Django's are imported inside the functions that use them: they need
# django.setup(), which runs only once the arguments have chosen the database.


GATES = [
    (
        "Registered",
        {
            "metric": "partner_attribute",
            "attribute": "status",
            "op": "in",
            "target": ["active", "onboarding"],
        },
    ),
    (
        "Silver",
        {
            "all": [
                {"metric": "certified_people", "op": ">=", "target": 2},
                {
                    "metric": "sales_amount",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "100000",
                },
            ]
        },
    ),
    (
        "Gold",
        {
            "all": [
                {
                    "metric": "certified_people",
                    "certification_types": ["sales-engineer"],
                    "op": ">=",
                    "target": 5,
                },
                {
                    "metric": "sales_amount",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "500000",
                },
                {
                    "metric": "engagement_points",
                    "window": {"kind": "year_to_date"},
                    "op": ">=",
                    "target": 200,
                },
            ]
        },
    ),
    (
        "Platinum",
        {
            "all": [
                {"metric": "service_offerings", "min_level": 2, "op": ">=", "target": 3},
                {
                    "metric": "sales_amount",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "1500000",
                },
                {
                    "metric": "won_deals",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": 10,
                },
            ]
        },
    ),
    (
        "Quarterly $500k",
        {"metric": "sales_amount", "window": {"kind": "quarter_to_date"}, "op": ">=", "target": "500000"},
    ),
    (
        "UK cloud above £1M",
        {
            "all": [
                {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["GB"]},
                {
                    "metric": "sales_amount",
                    "product_lines": ["cloud"],
                    "currency": "GBP",
                    "window": {"kind": "rolling_months", "months": 12},
                    "op": ">=",
                    "target": "1000000",
                },
            ]
        },
    ),
    (
        "Advanced certification",
        {"metric": "certified_people", "advanced_only": True, "op": ">=", "target": 1},
    ),
    (
        "Security specialist",
        {
            "any": [
                {"metric": "certified_people", "tracks": ["security"], "op": ">=", "target": 2},
                {
                    "metric": "service_offerings",
                    "offerings": ["mdr"],
                    "min_level": 3,
                    "op": ">=",
                    "target": 1,
                },
            ]
        },
    ),
    (
        "Engaged",
        {
            "metric": "engagement_points",
            "activity_types": ["co-marketing", "business-plan"],
            "window": {"kind": "rolling_days", "days": 180},
            "op": ">=",
            "target": 100,
        },
    ),
    (
        "Tenured EMEA",
        {
            "all": [
                {"metric": "months_since_joining", "op": ">=", "target": 12},
                {
                    "not": {
                        "metric": "partner_attribute",
                        "attribute": "region",
                        "op": "in",
                        "target": ["apac"],
                    }
                },
            ]
        },
    ),
]


def database_url(argument: str | None) -> str:
    base = argument or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(base)
    if parsed.scheme not in {"postgres", "postgresql"}:
        sys.exit("bench.gates measures PostgreSQL: give a postgres:// DATABASE_URL or --database-url")
    if argument:
        return base
    return urlunparse(parsed._replace(path="/prm_bench_gates"))


def ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()


def say(message: str) -> None:
    print(message, flush=True)


# When a fact of day ``d`` was stored: within five days mostly, one in twenty a month or
# three late, never in the future; replays "as known then" read it (``created_at``).
RECORDED = (
    "LEAST(now(), d + time '09:00' + make_interval(days => CASE WHEN random() < 0.05 "
    "THEN 30 + (random() * 60)::int ELSE (random() * 5)::int END))"
)


def generate(partners: int, facts: int, seed: int) -> dict[str, int]:
    """Synthetic data, written by PostgreSQL itself (generate_series) so that building it stays quick."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    random.seed(seed)
    sales = facts * 50 // 100
    certifications = facts * 20 // 100
    activities = facts * 25 // 100
    proficiencies = min(facts - sales - certifications - activities, partners * 5)
    people = max(partners * 3, certifications // 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1_000_000])
        cursor.execute(
            "TRUNCATE partners_partner, partners_person, partners_certification, partners_sale, "
            "partners_engagementactivity, partners_serviceproficiency, partners_exchangerate, "
            "partners_dailyrate, partners_productline, partners_certificationtype, partners_activitytype, "
            "partners_serviceoffering, programs_program, programs_tier, programs_benefit, gates_gate, "
            "gates_gatestatus, gates_gatestatuschange, gates_partnertier, gates_tierchange, gates_benefitgrant, "
            "gates_segmentmembership, gates_evaluationrun, gates_measuredigest, deals_deal RESTART IDENTITY CASCADE"
        )
        cursor.execute(
            "INSERT INTO partners_productline (code, name) VALUES "
            "('cloud', 'Cloud'), ('security', 'Security'), ('networking', 'Networking'), "
            "('analytics', 'Analytics'), ('services', 'Services')"
        )
        cursor.execute(
            "INSERT INTO partners_certificationtype (code, name, track, is_advanced, validity_months) VALUES "
            "('sales-engineer', 'Sales engineer', 'presales', false, 24), "
            "('sales-fundamentals', 'Sales', 'sales', false, 24), "
            "('cloud-architect', 'Cloud architect', 'technical', true, 36), "
            "('security-specialist', 'Security', 'security', true, 24), "
            "('delivery', 'Delivery', 'services', false, 24)"
        )
        cursor.execute(
            "INSERT INTO partners_activitytype (code, name, default_points) VALUES "
            "('training', 'Training', 20), ('webinar', 'Webinar', 10), ('co-marketing', 'Co-marketing', 50), "
            "('business-plan', 'Business plan', 40), ('event', 'Event', 30)"
        )
        cursor.execute(
            "INSERT INTO partners_serviceoffering (code, name) VALUES ('migration', 'Migration'), "
            "('mdr', 'MDR'), ('assessment', 'Assessment'), ('data-platform', 'Data'), ('audit', 'Audit')"
        )
        cursor.execute(
            """
            INSERT INTO partners_partner (name, partner_type, business_model, country, region, status,
                                          joined_on, website, created_at, updated_at)
            SELECT 'Partner ' || i,
                   (ARRAY['reseller','var','msp','mssp','si','isv','referral'])[1 + mod(i, 7)],
                   (ARRAY['resell','services','managed','referral'])[1 + mod(i, 4)],
                   (ARRAY['GB','DE','FR','US','CA','JP','AU','BR'])[1 + mod(i / 7, 8)],
                   (ARRAY['emea','emea','emea','na','na','apac','apac','latam'])[1 + mod(i / 7, 8)],
                   CASE WHEN mod(i, 20) = 0 THEN 'suspended' WHEN mod(i, 13) = 0 THEN 'onboarding' ELSE 'active' END,
                   CURRENT_DATE - (random() * 2000)::int, '', now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [partners],
        )
        cursor.execute(
            """
            INSERT INTO partners_person (partner_id, first_name, last_name, email, job_title, is_active,
                                         external_id, created_at, updated_at)
            SELECT 1 + mod(i - 1, %s), 'First', 'Last ' || i, 'p' || i || '@example.com', '', mod(i, 17) <> 0, '',
                   now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [partners, people],
        )
        # Facts arrive over time from every partner: rows in no particular partner order.
        cursor.execute(
            """
            INSERT INTO partners_certification (person_id, certification_type_id, issued_on, expires_on, source,
                                                external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, 1 + (random() * 4)::int, d, d + (365 * 2), 'bench', '',
                   """
            + RECORDED
            + """, now()
            FROM (SELECT CURRENT_DATE - (random() * 1000)::int AS d FROM generate_series(1, %s)) AS g
            """,
            [people, certifications],
        )
        cursor.execute(
            """
            INSERT INTO partners_sale (partner_id, amount, currency, product_line_id, region, closed_on, deal_id,
                                       customer_name, source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, round((500 + random() * 90000)::numeric, 2),
                   (ARRAY['USD','USD','EUR','GBP','JPY'])[1 + (random() * 4)::int], 1 + (random() * 4)::int,
                   (ARRAY['emea','na','apac','latam'])[1 + (random() * 3)::int],
                   d, NULL, '', 'bench', '', """
            + RECORDED
            + """, now()
            FROM (SELECT CURRENT_DATE - (random() * 540)::int AS d FROM generate_series(1, %s)) AS g
            """,
            [partners, sales],
        )
        cursor.execute(
            """
            INSERT INTO partners_engagementactivity (partner_id, activity_type_id, points, occurred_on, description,
                                                     source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, 1 + (random() * 4)::int, (ARRAY[10, 20, 30, 40, 50])[1 + (random() * 4)::int],
                   d, '', 'bench', '', """
            + RECORDED
            + """, now()
            FROM (SELECT CURRENT_DATE - (random() * 400)::int AS d FROM generate_series(1, %s)) AS g
            """,
            [partners, activities],
        )
        cursor.execute(
            """
            INSERT INTO partners_serviceproficiency (partner_id, offering_id, level, since, source, external_id, updated_at)
            SELECT p, o, 1 + (random() * 2)::int, CURRENT_DATE - (random() * 700)::int, 'bench', '', now()
            FROM (SELECT DISTINCT 1 + (random() * (%s - 1))::int AS p, 1 + (random() * 4)::int AS o
                  FROM generate_series(1, %s)) AS pairs
            """,
            [partners, proficiencies],
        )
        cursor.execute("SELECT count(*) FROM partners_serviceproficiency")
        proficiencies = cursor.fetchone()[0]
        for currency, rate in (("EUR", 1.08), ("GBP", 1.27), ("JPY", 0.0067)):
            cursor.execute(
                """
                INSERT INTO partners_exchangerate (currency, valid_from, rate)
                SELECT %s, (date_trunc('month', CURRENT_DATE) - make_interval(months => m))::date,
                       round((%s * (1 + (random() - 0.5) / 25))::numeric, 6)
                FROM generate_series(0, 24) AS m
                """,
                [currency, rate],
            )
        cursor.execute("ANALYZE")
    from core.exchange import daily_rates_rebuild

    for currency in ("EUR", "GBP", "JPY"):
        daily_rates_rebuild(currency)
    _define_gates()
    return {
        "sales": sales,
        "certifications": certifications,
        "activities": activities,
        "proficiencies": proficiencies,
        "people": people,
    }


def add_a_days_facts(partners: int, count: int, seed: int) -> int:
    """New sales, activities and certifications dated today, as a day of ingestion would bring."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed + 1) / 1_000_000])
        cursor.execute(
            """
            INSERT INTO partners_sale (partner_id, amount, currency, product_line_id, region, closed_on, deal_id,
                                       customer_name, source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, round((5000 + random() * 200000)::numeric, 2), 'USD',
                   1 + (random() * 4)::int, 'emea', CURRENT_DATE, NULL, '', 'bench', '', now(), now()
            FROM generate_series(1, %s)
            """,
            [partners, count // 2],
        )
        cursor.execute(
            """
            INSERT INTO partners_engagementactivity (partner_id, activity_type_id, points, occurred_on, description,
                                                     source, external_id, created_at, updated_at)
            SELECT 1 + (random() * (%s - 1))::int, 3, 50, CURRENT_DATE, '', 'bench', '', now(), now()
            FROM generate_series(1, %s)
            """,
            [partners, count // 2],
        )
    return count // 2 * 2


def _define_gates() -> None:
    from gates.models import Gate, GateState
    from programs.models import Program, Tier

    program = Program.objects.create(name="Bench program", slug="bench", base_currency="USD")
    tiers = {
        name: Tier.objects.create(program=program, name=name, rank=rank)
        for rank, name in enumerate(["Registered", "Silver", "Gold", "Platinum"], start=1)
    }
    for name, criteria in GATES:
        Gate.objects.create(
            program=program,
            name=name,
            state=GateState.ACTIVE,
            criteria=criteria,
            unlocks_tier=tiers.get(name),
        )


def floor_seconds() -> float:
    """One plain GROUP BY per fact table: the least any evaluation must read."""
    from django.db import connection

    queries = [
        "SELECT partner_id, count(*), sum(amount) FROM partners_sale GROUP BY partner_id",
        "SELECT p.partner_id, count(*) FROM partners_certification c JOIN partners_person p ON p.id = c.person_id "
        "GROUP BY p.partner_id",
        "SELECT partner_id, sum(points) FROM partners_engagementactivity GROUP BY partner_id",
        "SELECT partner_id, count(*) FROM partners_serviceproficiency GROUP BY partner_id",
    ]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in queries:
            cursor.execute(sql)
            cursor.fetchall()
    return time.perf_counter() - started
