"""Schemathesis, as an outside fuzzer runs it: the CLI against a live server, every phase.

Each identity (a channel manager's read-write token, a partner admin's browser
session, a read-only token) gets one run of ``st run`` over every operation of
the live OpenAPI document, and a distributor's user's browser session one over
every read operation (see ``NARROWED``), with the examples, coverage, fuzzing and stateful
phases and every check. The run fails on any failure and on any warning:
a server error, a response outside the schema, a schema-valid request refused
(the schema must state the constraints the validation enforces), a
schema-violating request accepted, operations that are never reached because
of missing data or rate limits.

``tests/api/fuzz_hooks.py`` narrows the schema to the objects that exist (see
there). ``PRM_FUZZ_EXAMPLES`` raises the number of generated cases per
operation; ``PRM_FUZZ_RANDOM=1`` drops the fixed seed to explore further;
``PRM_FUZZ_PATHS`` (a regular expression) narrows a run to some paths, and then
also writes every request and response to ``test-results/schemathesis/<identity>.har``.
"""

import datetime
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote
from urllib.request import urlopen

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils.crypto import get_random_string
from rest_framework.pagination import Cursor

from api.models import TokenScope
from api.pagination import FactCursorPagination
from api.services import token_issue
from deals import mdf as mdf_services
from events.models import OutboxEvent
from gates.models import BenefitGrant, SegmentMembership
from gates.replay import replay_queue
from gates.whatif import whatif_entry, whatif_queue
from incentives.models import LedgerEntry
from partners.models import CustomerSegment, MembershipRole
from tests.deals.helpers import grant_deal_registration, grant_mdf
from tests.factories import (
    ActivityTypeFactory,
    BenefitFactory,
    CertificationTypeFactory,
    DealFactory,
    ExchangeRateFactory,
    MembershipFactory,
    ProductLineFactory,
    ProgramFactory,
    SegmentFactory,
    ServiceOfferingFactory,
    TierFactory,
    grant_program_manager,
)
from tests.incentives.helpers import commission_rule, won_deal
from webhooks.models import WebhookDelivery, WebhookSubscription

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "test-results" / "schemathesis"
ST = Path(sys.executable).with_name("st")

# Bulk ingestion (and the xAPI statements an LMS sends) answers a malformed record
# in its per-row report (a 200) by design, so that one bad record never loses the
# good ones: a schema-invalid record is not a rejected request there. The report is still checked against
# the schema, and tests/api/test_ingestion.py covers the row-level errors.
CONFIG = """
seed = 20261202
continue-on-failure = true
workers = 1

[warnings]
fail-on = {fail_on}

# Text with a NUL is refused everywhere (no database stores it); tests/api/test_unstorable_input.py
# sends one in every field of every body and parameter.
[generation]
max-examples = {examples}
deterministic = {deterministic}
allow-x00 = false

# The stateful phase feeds values from responses into the next requests (a new version's start
# date, a gate's criteria as stored): values the narrowed schema (see fuzz_hooks) does not list,
# though the API rightly takes them. Schema-violating requests are still sent, and must be
# refused, in the coverage and fuzzing phases of every operation.
[phases.stateful]
max-steps = 6
checks.negative_data_rejection.enabled = false

[checks]
enabled = true
# Besides Schemathesis' defaults: a schema-valid If-Match that is not the object's current ETag
# is refused (412), and so is an Idempotency-Key sent again with another body or path (422);
# neither the fuzzer can know. 5xx is not among them: a server error fails the run.
positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429"]
# An If-Match that is not the object's ETag (an empty one, say) is refused with 412 before the
# body is read, as HTTP has preconditions evaluated first: a refusal like the others.
negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "428", "429"]

# Entries below name operations by "METHOD /path" (include-name-regex): an entry that gives a
# path regex and a method regex selects the operations matching either of them, not both.
# tests/api/test_fuzz_config.py holds which operations each identity's run reaches.
[[operations]]
include-path-regex = "(/bulk/|/xapi/statements/)$"
checks.negative_data_rejection.enabled = false

# An incentive rule's rows are refused where they overlap (two volume bands over the same
# sales) or repeat (two rates for one tier): rules across the items of an array, which JSON
# Schema cannot state. A PUT (or a PATCH) replaces terms of the world's rule, which has started
# paying: a 409 alone, or a 400 where another field is wrong too. Generated rows often do, and each is refused with its reason;
# tests/incentives/test_rule_schema.py pins that every other body the schema admits is taken.
[[operations]]
include-name-regex = '^(POST|PUT|PATCH) /api/v1/incentive-rules/(\\{{id\\}}/)?$'
checks.positive_data_acceptance.enabled = false

# A benefit's fields depend on its kind: a percentage (discount, rebate, commission) has no
# amount, an MDF allowance an amount, a currency and a period, an access neither. A create and a
# replace have a variant per kind (tests/api/test_benefit_schema.py pins that each is taken); a
# PATCH is checked against the kind stored, which its body may not say: generated bodies mostly
# mix the kinds, and each is refused with the field to correct.
[[operations]]
include-name-regex = '^PATCH /api/v1/benefits/\\{{id\\}}/$'
checks.positive_data_acceptance.enabled = false

# An override names a partner, a program and a tier, and the tier must be one of that program's:
# a rule across objects that JSON Schema cannot state. The stateful phase chains in tiers it
# created in other programs, each refused on its tier field; tests/api/test_tier_overrides.py
# pins both the refusal and that a tier of the program is taken.
[[operations]]
include-name-regex = '^POST /api/v1/partner-tiers/override/$'
checks.positive_data_acceptance.enabled = false

# A gate unlocks a tier of its own program: the run creates tiers in every program it may change,
# and a gate given another program's tier is refused on its unlocks_tier field; tests/api/test_gates.py
# pins the refusal and that a tier of the gate's program is taken.
[[operations]]
include-name-regex = '^(POST|PUT|PATCH) /api/v1/gates/(\\{{id\\}}/)?$'
checks.positive_data_acceptance.enabled = false

# A replay names a gate and, optionally, one of that gate's version numbers; a what-if names each
# gate once: rules across two fields, and across the items of an array, which JSON Schema cannot
# state. Each is refused with the field to correct; tests/api/test_gate_replays.py and
# tests/gates/test_whatif_api.py pin the refusals and that a body within the rules is taken.
[[operations]]
include-name-regex = '^POST /api/v1/(gate-replays|whatif-runs)/$'
checks.positive_data_acceptance.enabled = false

# A subscription's URL must resolve, when saved, to a public address (see ACROSS_OBJECTS).
[[operations]]
include-name-regex = '^(POST|PUT|PATCH) /api/v1/webhook-subscriptions/(\\{{id\\}}/)?$'
checks.positive_data_acceptance.enabled = false
"""

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fuzz_world(world, partner_admin, channel_manager, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "1000000/min", "user": "1000000/min", "anon": "1000000/min"},
    }
    settings.PRM_API_TOKEN_FAILURE_RATE = (1_000_000, 60)
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    soon = datetime.date.today() + datetime.timedelta(days=30)
    grant_deal_registration(world.acme)
    grant_mdf(world.acme, amount="100000.00")
    deal = DealFactory(partner=world.acme)
    deal.products.set([world.product_line])
    mdf_request = mdf_services.mdf_request_create(
        actor=partner_admin,
        partner=world.acme,
        title="Summit",
        activity_kind="event",
        starts_on=soon,
        ends_on=soon,
        amount=Decimal("1000.00"),
    )
    rule = commission_rule(world.program, effective_from=datetime.date(2025, 1, 1))
    won = won_deal(world.acme, line=world.product_line, closed_on=datetime.date.today())
    call_command("calculate_incentives", verbosity=0)
    # The manager's subscription and one delivery of it (its URL stands for an outside receiver).
    subscription = WebhookSubscription.objects.create(
        owner=channel_manager, url="https://hooks.example.com/prm", event_types=["deal.won"]
    )
    event = OutboxEvent.objects.create(event_type="deal.won", partner_id=world.acme.pk, data={})
    delivery = WebhookDelivery.objects.create(subscription=subscription, event=event)
    acme = world.facts["acme"]
    ids = {
        "partners": [world.acme.pk],
        "people": [acme["person"].pk],
        "certifications": [acme["certification"].pk],
        "sales": [acme["sale"].pk],
        "activities": [acme["activity"].pk],
        "proficiencies": [acme["proficiency"].pk],
        "gate-statuses": [acme["gate_status"].pk],
        "gate-status-changes": [acme["gate_change"].pk],
        "tier-changes": [acme["tier_change"].pk],
        "partner-tiers": [acme["partner_tier"].pk],
        "gate-forecasts": [acme["gate_forecast"].pk],
        "programs": [world.program.pk, world.specialisation.pk],
        "tiers": [world.silver.pk, world.gold.pk],
        "benefits": [world.discount.pk],
        "gates": [world.silver_gate.pk, world.draft_gate.pk],
        "deals": [deal.pk, won.pk],
        "mdf-requests": [mdf_request.pk],
        "certification-types": [world.cert_type.pk],
        "product-lines": [world.product_line.pk],
        "activity-types": [world.activity_type.pk],
        "service-offerings": [world.offering.pk],
        "incentive-statements": [world.acme.pk],
        "incentive-rules": [rule.pk],
        "ledger-entries": list(LedgerEntry.objects.filter(partner=world.acme).values_list("pk", flat=True)),
        "webhook-subscriptions": [subscription.pk],
        "webhook-deliveries": [delivery.pk],
        "segments": [world.segment.pk],
        # A simulation and a replay the manager asked for, so that their reports and the CSV of
        # movers are read by identities that may not start one.
        "whatif-runs": [whatif_queue(actor=channel_manager, entries=[whatif_entry(world.silver_gate)]).pk],
        "gate-replays": [replay_queue(actor=channel_manager, gate=world.silver_gate, count=2).pk],
        "exchange-rates": [ExchangeRateFactory(currency="EUR").pk],
        "segment-memberships": [SegmentMembership.objects.get(partner=world.acme, segment=world.segment).pk],
        "benefit-grants": [BenefitGrant.objects.get(partner=world.acme, benefit=world.discount).pk],
        # Not the partner admin's: deleting it during the run would hide the login the users'
        # operations act on.
        "memberships": [MembershipFactory(partner=world.acme, user__username="mia").pk],
        "users": [partner_admin.pk],
        "tokens": [token_issue(actor=channel_manager, name="The world's", all_partners=True)[0].pk],
    }
    known = {
        **{key: ids[key] for key in ("partners", "programs", "gates", "tiers", "benefits", "segments")},
        "deals": [won.pk],
        "today": [datetime.date.today().isoformat()],
        "tomorrow": [(datetime.date.today() + datetime.timedelta(days=1)).isoformat()],
        "rate-days": ["2000-01-01", datetime.date.today().isoformat()],
        "next-year": [(datetime.date.today() + datetime.timedelta(days=365)).isoformat()],
        "tiered-programs": [world.program.pk],
        # A program above the world's, which the run never changes: no loop of parents.
        "parent-programs": [ProgramFactory(name="Partner programs", slug="partner-programs").pk],
        "prerequisite-gates": [world.specialist_gate.pk],
        **{key: ids[key] for key in ("product-lines", "certification-types", "activity-types")},
        "product-line-codes": [world.product_line.code],
        "certification-type-codes": [world.cert_type.code],
        "activity-type-codes": [world.activity_type.code],
        "service-offering-codes": [world.offering.code],
        # Seeded by a migration, which a transactional test's flush may have emptied.
        "customer-segment-codes": [
            CustomerSegment.objects.get_or_create(code="enterprise", defaults={"name": "Enterprise"})[0].code
        ],
        "criteria": [world.silver_gate.criteria, world.draft_gate.criteria, world.specialist_gate.criteria],
        "distributors": [world.acme.distributor_id],
        "staff": [channel_manager.pk],
        "covered-regions": ["emea"],
        "websites": ["https://acme.example.com", ""],
    }
    # The identities' tokens name no source, and a vendor's user names the partner it acts for.
    required = {
        name: ["source"]
        for name in (
            "SaleBatchRequest",
            "CertificationBatchRequest",
            "ActivityBatchRequest",
            "PersonBatchRequest",
            "ProficiencyBatchRequest",
        )
    }
    # Definitions set aside for the run's deletes (see fuzz_hooks): in use by nothing, so that a
    # delete is taken, and the world's own stay for the operations that read or change them.
    retired = [ProgramFactory(name=f"Retired {n}", slug=f"retired-{n}") for n in range(2)]
    grant_program_manager(channel_manager, *retired)
    spares = {
        "programs": [program.pk for program in retired],
        "tiers": [TierFactory(program=world.program, name=f"Spare {n}", rank=10 + n).pk for n in range(2)],
        "benefits": [BenefitFactory(program=world.program, name=f"Spare {n}").pk for n in range(2)],
        "segments": [SegmentFactory(name=f"Spare {n}").pk for n in range(2)],
        "exchange-rates": [
            ExchangeRateFactory(currency="GBP", valid_from=datetime.date(2020 + n, 1, 1)).pk for n in range(2)
        ],
        "product-lines": [ProductLineFactory(code=f"spare-{n}").pk for n in range(2)],
        "certification-types": [CertificationTypeFactory(code=f"spare-{n}").pk for n in range(2)],
        "activity-types": [ActivityTypeFactory(code=f"spare-{n}").pk for n in range(2)],
        "service-offerings": [ServiceOfferingFactory(code=f"spare-{n}").pk for n in range(2)],
    }
    return {
        "ids": ids,
        "spares": spares,
        "known": known,
        "cursors": [_first_page_cursor()],
        # Cohorts of each kind; a certification code is one that exists.
        "cohorts": [
            f"certification:{world.cert_type.code}",
            "mdf",
            "business_model:resell",
            "joined:2025-Q1",
        ],
        "required": required,
    }


def _first_page_cursor() -> str:
    """A cursor as the API hands them out (the fact lists' first page, asked for explicitly)."""
    paginator = FactCursorPagination()
    paginator.base_url = "http://testserver/"
    link = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=None))
    return unquote(link.split("cursor=", 1)[1])


# The longest run first (tests/conftest.py spaces the runs apart in this order).
IDENTITIES = ["manager", "partner", "reader", "distributor"]
# A distributor's user reads what its resellers' partners and its own statements show, and is
# refused every write before the body is read (the permission matrix pins each refusal): its run
# covers every read operation, with every phase and check as the others'.
NARROWED = {"distributor": ["--include-method", "GET"]}
# Writes whose rows must not overlap or repeat (see the configuration above), and an MDF
# claim, which is accepted only once the activity has ended (the world's request runs next
# month: a claim is a 409). Generated bodies may be mostly refused there, each with its reasons.
ACROSS_OBJECTS = {
    "POST /api/v1/incentive-rules/",
    "PUT /api/v1/incentive-rules/{id}/",
    "PATCH /api/v1/incentive-rules/{id}/",
    "POST /api/v1/mdf-requests/{id}/claim/",
    # An override's tier must be one of its program's, a replay's version one of its gate's, and a
    # what-if names each gate once (see the configuration above).
    "POST /api/v1/partner-tiers/override/",
    "POST /api/v1/gates/",
    "PUT /api/v1/gates/{id}/",
    "POST /api/v1/gate-replays/",
    "POST /api/v1/whatif-runs/",
    # A subscription's URL must resolve to a public address: the run's generated hosts
    # resolve to nothing here, so most are refused, with the reason on the url field.
    "POST /api/v1/webhook-subscriptions/",
    "PUT /api/v1/webhook-subscriptions/{id}/",
    "PATCH /api/v1/webhook-subscriptions/{id}/",
    # A benefit's fields depend on its kind: a create and a replace have a variant per kind
    # (api/benefit_schema.py), a PATCH names some fields of a stored benefit whose kind it may not
    # say, and a figure that kind does not carry is refused.
    "PATCH /api/v1/benefits/{id}/",
    # A definition's detail answers an ETag, and a PUT, PATCH or DELETE with an If-Match that is
    # not the current one is refused (412): the fuzzer generates If-Match values it cannot know.
    *(
        f"{method} /api/v1/{collection}/{{id}}/"
        for method in ("PUT", "PATCH")
        for collection in (
            "programs",
            "tiers",
            "segments",
            "exchange-rates",
            "product-lines",
            "certification-types",
            "activity-types",
            "service-offerings",
        )
    ),
    # The world's one deal and one MDF request are decided during the run: once approved,
    # rejected, won, paid or withdrawn, every later decision is a 409. New MDF requests draw on
    # one allowance and must not overlap its dates; a deal is registered by the partner
    # (MANAGER_REFUSED).
    "POST /api/v1/deals/",
    *(f"POST /api/v1/deals/{{id}}/{command}/" for command in ("approve", "reject", "won", "lost")),
    "POST /api/v1/mdf-requests/",
    *(
        f"POST /api/v1/mdf-requests/{{id}}/{command}/"
        for command in ("approve", "reject", "paid", "withdraw")
    ),
    # An active gate's criteria change through a published draft: a PATCH of other criteria is a
    # 409, and so is publishing when no draft is saved.
    "PATCH /api/v1/gates/{id}/",
    "POST /api/v1/gates/{id}/publish/",
    # The world's partner moves along its lifecycle during the run: a move its status of the
    # moment refuses (onboarding an active partner, anything after termination) is a 409.
    *(
        f"POST /api/v1/partners/{{id}}/{command}/"
        for command in ("onboard", "activate", "suspend", "reinstate", "terminate")
    ),
}
# What a channel manager's token is refused (403) whatever the body: the history spans every
# partner and tokens are narrowed to some; a deal is registered by the partner that found it
# (its admins and sellers), never by the vendor on its behalf. The permission matrix pins both.
MANAGER_REFUSED = {
    "GET /api/v1/history/",
    # A partner's own figures are its users' alone: a manager belongs to no partner (403).
    "GET /api/v1/analytics/my-figures/",
    "POST /api/v1/deals/",
    # A fund request is the partner admins' to make, never the vendor's on the partner's behalf.
    "POST /api/v1/mdf-requests/",
    # The partner claims its MDF funds, with its proof, never the vendor on its behalf.
    "POST /api/v1/mdf-requests/{id}/claim/",
    # Tokens are managed by people, never by a token; logins are deactivated by administrators.
    "GET /api/v1/tokens/",
    "POST /api/v1/tokens/",
    "GET /api/v1/tokens/{id}/",
    "POST /api/v1/tokens/{id}/revoke/",
    "POST /api/v1/users/{id}/deactivate/",
    "POST /api/v1/users/{id}/reactivate/",
}
# What a distributor's user is refused (403) whatever it asks: its partners' own figures, the
# history, and the versions of definitions, which are the vendor's (tests/api/permission_cases.py).
DISTRIBUTOR_REFUSED = {
    "GET /api/v1/analytics/my-figures/",
    "GET /api/v1/history/",
    "GET /api/v1/gates/{id}/diff/",
    "GET /api/v1/segments/{id}/diff/",
    "GET /api/v1/segments/{id}/versions/",
}
# The identities whose refusals are all listed: any other operation refused alone fails the run.
REFUSED = {"manager": MANAGER_REFUSED, "distributor": DISTRIBUTOR_REFUSED}
# Every warning fails the run. A read-only token and a partner's session are refused
# (403) what they may not do, so "operations that returned only 401/403" is what they
# should see there; the permission matrix pins each of those refusals.
WARNINGS = [
    "missing_auth",
    "missing_test_data",
    "base_url_mismatch",
    "validation_mismatch",
    "missing_deserializer",
    "unused_openapi_auth",
    "unsupported_regex",
    "method_not_allowed",
    "unmatched_filter",
    "unresolvable_reference",
    "low_valid_rate",
    "rate_limited",
]


def _identity(name, *, channel_manager, partner_admin, distributor_user, issue_token):
    """The auth section of the run's configuration, and the session to add to each call."""
    if name in ("partner", "distributor"):
        client = Client()
        client.force_login(partner_admin if name == "partner" else distributor_user)
        # A CSRF secret of our own, as the cookie and as the header, like a browser page's script.
        session, csrf = client.cookies["sessionid"].value, get_random_string(32)
        auth = f'[auth.openapi.cookieAuth]\napi_key = "{session}"\n'
        return auth, {"cookies": {"csrftoken": csrf}, "headers": {"X-CSRFToken": csrf}}
    scope = TokenScope.READ if name == "reader" else TokenScope.READ_WRITE
    secret = issue_token(channel_manager, name=f"Fuzzing ({name})", scope=scope)[1]
    return f'[auth.openapi.tokenAuth]\nbearer = "{secret}"\n', None


@pytest.mark.parametrize("identity", IDENTITIES)
def test_schemathesis_finds_nothing(
    identity, fuzz_world, live_server, channel_manager, partner_admin, issue_token, tmp_path
):
    # A user of the distributor the world's partner buys through.
    distributor_user = MembershipFactory(
        partner=None,
        distributor_id=fuzz_world["known"]["distributors"][0],
        role=MembershipRole.DISTRIBUTOR,
        user__username="dina",
    ).user
    auth, session = _identity(
        identity,
        channel_manager=channel_manager,
        partner_admin=partner_admin,
        distributor_user=distributor_user,
        issue_token=issue_token,
    )
    world_file = tmp_path / "world.json"
    if identity != "partner":
        for name in ("DealRegistrationRequest", "MdfRequestCreateRequest"):
            fuzz_world["required"][name] = ["partner"]
    world_file.write_text(json.dumps({**fuzz_world, "session": session}))
    # These two warnings are checked below against the operations that may raise them.
    fail_on = [name for name in WARNINGS if name not in ("missing_auth", "validation_mismatch")]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.format(
            examples=int(os.environ.get("PRM_FUZZ_EXAMPLES", "20")),
            deterministic="false" if os.environ.get("PRM_FUZZ_RANDOM") == "1" else "true",
            fail_on=json.dumps(fail_on),
        )
        + auth
    )
    REPORTS.mkdir(parents=True, exist_ok=True)
    report = REPORTS / f"{identity}.xml"
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.fuzz_hooks",
        "PRM_FUZZ_WORLD": str(world_file),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    # The live document, read here with time to spare: Schemathesis gives up loading one after
    # ten seconds, which a machine busy with other tests can take to build it.
    schema = tmp_path / "schema.json"
    with urlopen(f"{live_server.url}/api/schema/?format=json", timeout=600) as response:  # noqa: S310
        schema.write_bytes(response.read())
    command = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        live_server.url,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    command += NARROWED.get(identity, [])
    if os.environ.get("PRM_FUZZ_PATHS"):
        command[command.index("junit")] = "junit,har"
        command += [
            "--include-path-regex",
            os.environ["PRM_FUZZ_PATHS"],
            "--report-har-path",
            str(REPORTS / f"{identity}.har"),
        ]
    # The command is this virtualenv's st with arguments built here, not outside input.
    result = subprocess.run(  # noqa: S603
        command, env=environment, capture_output=True, text=True, timeout=2700, check=False
    )
    (REPORTS / f"{identity}.txt").write_text(result.stdout + result.stderr)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    # What the manager is refused whatever the body (a 403, or a 404 for an id outside the
    # world) may read as "mostly rejected" too.
    refused = REFUSED.get(identity, set())
    assert _listed(output, "Schema validation mismatch") <= ACROSS_OBJECTS | refused, output[-20000:]
    if identity in REFUSED:
        assert _listed(output, "Authentication failed") <= refused, output[-20000:]


def _listed(output: str, warning: str) -> set[str]:
    """The operations the run's warning lists ("  - POST /api/v1/…"), empty without the warning."""
    if f"{warning}:" not in output:
        return set()
    section = output.split(f"{warning}:", 1)[1].split("\n\n💡", 1)[0]
    return {line.strip()[2:] for line in section.splitlines() if line.strip().startswith("- ")}
