"""The cases of the permission matrix (``test_permission_matrix``): the personas, and for each the
endpoints and methods it is tried on with the status it must get.
"""

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

V1 = "/api/v1"
ORGS = ("acme", "globex")


@dataclass(frozen=True)
class Persona:
    kind: str  # anonymous, partner, distributor, staff
    orgs: frozenset[str] = frozenset()
    writes: bool = False  # holds the model permissions (and, with a token, a read-write one)
    vendor_wide: bool = True  # no token, or a token for every partner
    role: str = ""  # admin or sales, for partner users
    read_only_token: bool = False
    token: bool = False  # calls with an integration token rather than a session
    # The programs whose gates the persona may change (django-guardian's manage_program).
    manages: frozenset[str] = frozenset({"main", "specialisation"})
    # Whose integration tokens the persona sees and revokes: the channel manager's ("acme") and
    # the superuser's ("globex"). Tokens manage no tokens at all.
    tokens_seen: frozenset[str] = frozenset()
    # Acts as a superuser (itself, or a token it issued): activates and deactivates logins.
    administrator: bool = False

    @property
    def staff(self) -> bool:
        return self.kind == "staff"

    def sees_program(self, program: str) -> bool:
        return self.staff or program == "main" or "acme" in self.orgs

    def sees_gate(self, gate: str) -> bool:
        if self.staff:
            return True
        return {"silver": True, "specialist": "acme" in self.orgs, "draft": False}[gate]


PERSONAS = {
    "anonymous": Persona("anonymous"),
    "partner_admin": Persona("partner", frozenset({"acme"}), role="admin"),
    "partner_sales": Persona("partner", frozenset({"acme"}), role="sales"),
    "distributor_user": Persona("distributor", frozenset({"acme"})),
    "other_partner_admin": Persona("partner", frozenset({"globex"}), role="admin"),
    "channel_manager": Persona("staff", frozenset({"acme"}), writes=True, tokens_seen=frozenset({"acme"})),
    "specialisation_manager": Persona(
        "staff", frozenset({"acme"}), writes=True, manages=frozenset({"specialisation"})
    ),
    "manager_of_no_program": Persona("staff", frozenset({"acme"}), writes=True, manages=frozenset()),
    "superuser": Persona(
        "staff", frozenset(ORGS), writes=True, tokens_seen=frozenset(ORGS), administrator=True
    ),
    "read_token": Persona("staff", frozenset({"acme"}), read_only_token=True, token=True),
    "write_token": Persona("staff", frozenset({"acme"}), writes=True, token=True),
    "scoped_token": Persona(
        "staff", frozenset({"globex"}), writes=True, vendor_wide=False, token=True, administrator=True
    ),
}


@dataclass
class Case:
    method: str
    url: str
    expected: int
    body: dict | None = None
    format: str = "json"
    list_ids: dict[int, bool] = field(default_factory=dict)  # id -> expected in the list
    # A bulk batch of one record answered 200: whether the record is stored (or refused on its row).
    row_stored: bool | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.url}"


def cases_for(persona: Persona, world, extra) -> list[Case]:
    p = persona
    cases: list[Case] = []

    def read(url, visible=True, list_ids=None):
        if p.kind == "anonymous":
            return Case("GET", url, 401)
        return Case("GET", url, 200 if visible else 404, list_ids=list_ids or {})

    def write(method, url, ok, *, body=None, visible=True, vendor_wide=False, fmt="json", program=None):
        """A write that needs the model permissions (and, on a program's definitions, the right to
        manage the program): 401, 403, 404 or ``ok``."""
        if p.kind == "anonymous":
            status = 401
        elif not p.writes or (vendor_wide and not p.vendor_wide):
            status = 403
        elif not visible:
            status = 404
        elif program is not None and program not in p.manages:
            status = 403
        else:
            status = ok
        return Case(method, url, status, body=body, format=fmt)

    def not_allowed(method, url):
        return Case(method, url, 401 if p.kind == "anonymous" else 405, body={})

    # --- partner-linked objects: detail, list, delete --------------------------------------------
    linked = {
        "partners": "partner",
        "people": "person",
        "certifications": "certification",
        "sales": "sale",
        "activities": "activity",
        "proficiencies": "proficiency",
        "gate-statuses": "gate_status",
        "gate-status-changes": "gate_change",
        "tier-changes": "tier_change",
        "partner-tiers": "partner_tier",
        "gate-forecasts": "gate_forecast",
    }
    # A colleague's certification (its holder has no login) is the partner admins' to see.
    sees_colleagues_certifications = p.kind != "partner" or p.role == "admin"
    for route, kind in linked.items():
        objects = {org: world.acme if kind == "partner" and org == "acme" else None for org in ORGS}
        seen = {
            org: org in p.orgs and (kind != "certification" or sees_colleagues_certifications) for org in ORGS
        }
        for org in ORGS:
            objects[org] = (
                (world.acme if org == "acme" else world.globex) if kind == "partner" else world.of(org, kind)
            )
            cases.append(read(f"{V1}/{route}/{objects[org].pk}/", seen[org]))
        cases.append(read(f"{V1}/{route}/", list_ids={objects[org].pk: seen[org] for org in ORGS}))
    for org in ORGS:
        partner = world.acme if org == "acme" else world.globex
        cases.append(read(f"{V1}/partners/{partner.pk}/programs/", org in p.orgs))
        cases.append(read(f"{V1}/partners/{partner.pk}/standing/", org in p.orgs))
    cases.append(not_allowed("POST", f"{V1}/partners/{world.acme.pk}/standing/"))
    # Segments are the vendor's targeting: staff only. Grants: whoever sees the partner and the program.
    for route, kind, audience in (
        ("segment-memberships", "segment_membership", p.staff),
        ("benefit-grants", "benefit_grant", True),
    ):
        for org in ORGS:
            cases.append(read(f"{V1}/{route}/{extra[kind][org].pk}/", audience and org in p.orgs))
        cases.append(
            read(f"{V1}/{route}/", list_ids={extra[kind][org].pk: audience and org in p.orgs for org in ORGS})
        )
        cases.append(not_allowed("POST", f"{V1}/{route}/"))
        cases.append(not_allowed("DELETE", f"{V1}/{route}/{extra[kind]['acme'].pk}/"))
    specialist_status = world.of("acme", "specialist_status")
    cases.append(read(f"{V1}/gate-statuses/{specialist_status.pk}/", "acme" in p.orgs))

    for route, kind in (("certifications", "certification"), ("sales", "sale"), ("activities", "activity")):
        for org in ORGS:
            cases.append(
                write("DELETE", f"{V1}/{route}/{world.of(org, kind).pk}/", 204, visible=org in p.orgs)
            )

    # --- bulk ingestion: a record for each organisation's partner --------------------------------
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    for org in ORGS:
        partner = world.acme if org == "acme" else world.globex
        records = {
            "sales": {
                "partner": partner.pk,
                "amount": "10",
                "currency": "USD",
                "product_line": "cloud",
                "closed_on": yesterday,
            },
            "certifications": {
                "partner": partner.pk,
                "person_email": f"se@{org}.example.com",
                "certification_type": "sales-engineer",
                "issued_on": yesterday,
            },
            "activities": {"partner": partner.pk, "activity_type": "training", "occurred_on": yesterday},
            # The world's proficiencies are in "migration": a record in another offering is new.
            "proficiencies": {"partner": partner.pk, "offering": extra["bulk_offering"].code, "level": 2}
            | {"since": yesterday},
            "people": {
                "partner": partner.pk,
                "email": f"new.person@{org}.example.com",
                "first_name": "New",
                "last_name": "Person",
            },
        }
        for route, record in records.items():
            body = {"source": "matrix", "records": [{"external_id": f"{org}-new", **record}]}
            case = write("POST", f"{V1}/{route}/bulk/", 200, body=body)
            # Only the partners one may send facts for take the record; the others' is refused alone.
            # (The certification names an unknown holder without a name: refused for everybody.)
            if case.expected == 200 and route != "certifications":
                case.row_stored = org in p.orgs
            cases.append(case)

    # --- xAPI statements: read-write integration tokens only -------------------------------------
    xapi_statement = {
        "id": "6f1c9a52-4a0e-4d51-9d0e-2b6f1f1d2c3a",
        "actor": {"mbox": "mailto:nobody@acme.example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "https://lms.example.com/courses/none"},
    }
    xapi_case = write("POST", f"{V1}/xapi/statements/", 200, body=[xapi_statement])  # type: ignore[arg-type]
    if xapi_case.expected == 200 and not p.token:
        xapi_case.expected = 403
    cases.append(xapi_case)
    cases.append(not_allowed("GET", f"{V1}/xapi/statements/"))

    # --- programs, tiers, benefits, gates ----------------------------------------------------------
    for route, objects in (
        ("programs", {"main": world.program, "specialisation": world.specialisation}),
        ("tiers", {"main": world.silver, "specialisation": world.specialist_tier}),
        ("benefits", {"main": world.discount, "specialisation": world.specialist_benefit}),
    ):
        for program, obj in objects.items():
            cases.append(read(f"{V1}/{route}/{obj.pk}/", p.sees_program(program)))
        cases.append(
            read(
                f"{V1}/{route}/",
                list_ids={obj.pk: p.sees_program(program) for program, obj in objects.items()},
            )
        )
    # Writes: the model permissions, a token for every partner, the right to manage the program.
    definition_writes = (
        ("programs", {"main": world.program, "specialisation": world.specialisation}, {"description": "x"}),
        ("tiers", {"main": world.silver, "specialisation": world.specialist_tier}, {"grace_days": 30}),
        (
            "benefits",
            {"main": world.discount, "specialisation": world.specialist_benefit},
            {"description": "x"},
        ),
    )
    for route, objects, change in definition_writes:
        for program, obj in objects.items():
            url = f"{V1}/{route}/{obj.pk}/"
            cases.append(write("PATCH", url, 200, body=change, vendor_wide=True, program=program))
            full = {**client_body(route, obj), **change}
            cases.append(write("PUT", url, 200, body=full, vendor_wide=True, program=program))
    # Whoever may add programs creates one (and manages it); no right on a program is needed.
    cases.append(write("POST", f"{V1}/programs/", 201, body={"name": "New", "slug": "new"}, vendor_wide=True))
    for program, target in (("main", world.program), ("specialisation", world.specialisation)):
        cases.append(
            write(
                "POST",
                f"{V1}/tiers/",
                201,
                body={"program": target.pk, "name": "Platinum", "rank": 9},
                vendor_wide=True,
                program=program,
            )
        )
        cases.append(
            write(
                "POST",
                f"{V1}/benefits/",
                201,
                body={"program": target.pk, "name": "Co-sell", "kind": "co_selling"},
                vendor_wide=True,
                program=program,
            )
        )
    # Deletes: still in use answers 409 to those allowed; unused, 204. The empty program is the
    # main program's managers'.
    deletes = (
        ("programs", world.program, 409, "main"),
        ("programs", extra["empty_program"], 204, "main"),
        ("tiers", world.silver, 409, "main"),
        ("tiers", world.gold, 204, "main"),
        ("tiers", world.specialist_tier, 204, "specialisation"),
        ("benefits", world.discount, 204, "main"),
        ("benefits", world.specialist_benefit, 204, "specialisation"),
    )
    for route, obj, ok, program in deletes:
        cases.append(write("DELETE", f"{V1}/{route}/{obj.pk}/", ok, vendor_wide=True, program=program))

    # --- segments: staff read them; managing a program lets one create a segment, and the segment
    # of a program is changed by the managers of that program
    segment, unused_segment = world.segment, extra["unused_segment"]
    any_managed = next(iter(sorted(p.manages)), "any program")
    cases.append(read(f"{V1}/segments/", list_ids={segment.pk: p.staff, unused_segment.pk: p.staff}))
    cases.append(read(f"{V1}/segments/{segment.pk}/", p.staff))
    criteria = {
        "all": [{"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["GB"]}]
    }
    cases.append(
        write(
            "POST",
            f"{V1}/segments/",
            201,
            body={"name": "UK", "criteria": criteria},
            vendor_wide=True,
            program=any_managed,
        )
    )
    # A program targets the segment: what a decision does not read changes in place, its criteria
    # only through a draft (a 409 for those who may change it).
    for method, body, ok in (
        ("PATCH", {"description": "UK partners"}, 200),
        ("PUT", {"name": segment.name, "criteria": segment.criteria}, 200),
        ("PATCH", {"criteria": criteria}, 409),
        ("PUT", {"name": segment.name, "criteria": criteria}, 409),
    ):
        cases.append(
            write(
                method,
                f"{V1}/segments/{segment.pk}/",
                ok,
                body=body,
                vendor_wide=True,
                program="specialisation",
            )
        )
    cases.append(
        write(
            "POST",
            f"{V1}/segments/{segment.pk}/draft/",
            200,
            body={"criteria": criteria},
            vendor_wide=True,
            program="specialisation",
        )
    )
    # Each case is rolled back: there is no draft to publish, which only the allowed learn.
    cases.append(
        write(
            "POST",
            f"{V1}/segments/{segment.pk}/publish/",
            409,
            body={},
            vendor_wide=True,
            program="specialisation",
        )
    )
    design = 401 if p.kind == "anonymous" else 200 if p.staff and p.vendor_wide else 403
    cases.append(Case("GET", f"{V1}/segments/{segment.pk}/versions/", design))
    cases.append(Case("GET", f"{V1}/segments/{segment.pk}/diff/?after=1", design))
    cases.append(
        write("DELETE", f"{V1}/segments/{segment.pk}/", 409, vendor_wide=True, program="specialisation")
    )
    cases.append(
        write("DELETE", f"{V1}/segments/{unused_segment.pk}/", 204, vendor_wide=True, program=any_managed)
    )

    gates = {"silver": world.silver_gate, "specialist": world.specialist_gate, "draft": world.draft_gate}
    gate_program = {"silver": "main", "specialist": "specialisation", "draft": "main"}
    for name, gate in gates.items():
        cases.append(read(f"{V1}/gates/{gate.pk}/", p.sees_gate(name)))
        cases.append(
            write(
                "PATCH",
                f"{V1}/gates/{gate.pk}/",
                200,
                body={"description": "edited"},
                visible=p.sees_gate(name),
                vendor_wide=True,
                program=gate_program[name],
            )
        )
        cases.append(
            write(
                "POST",
                f"{V1}/gates/{gate.pk}/retire/",
                200,
                visible=p.sees_gate(name),
                vendor_wide=True,
                program=gate_program[name],
            )
        )
        cases.append(not_allowed("DELETE", f"{V1}/gates/{gate.pk}/"))
        # Versions and diffs: the vendor's staff, vendor-wide.
        design = 401 if p.kind == "anonymous" else 200 if p.staff and p.vendor_wide else 403
        cases.append(Case("GET", f"{V1}/gates/{gate.pk}/versions/", design))
        cases.append(Case("GET", f"{V1}/gates/{gate.pk}/diff/?after=1", design))
        cases.append(
            write(
                "POST",
                f"{V1}/gates/{gate.pk}/draft/",
                200,
                body={"criteria": {"metric": "certified_people", "op": ">=", "target": 2}},
                visible=p.sees_gate(name),
                vendor_wide=True,
                program=gate_program[name],
            )
        )
        # Each case is rolled back: there is no draft to publish, which only the allowed learn.
        cases.append(
            write(
                "POST",
                f"{V1}/gates/{gate.pk}/publish/",
                409,
                body={},
                visible=p.sees_gate(name),
                vendor_wide=True,
                program=gate_program[name],
            )
        )
    cases.append(read(f"{V1}/gates/", list_ids={gate.pk: p.sees_gate(name) for name, gate in gates.items()}))
    new_gate = {
        "program": world.program.pk,
        "name": "Matrix gate",
        "criteria": {"metric": "certified_people", "op": ">=", "target": 2},
    }
    cases.append(write("POST", f"{V1}/gates/", 201, body=new_gate, vendor_wide=True, program="main"))
    cases.append(
        write(
            "POST",
            f"{V1}/gates/",
            201,
            body={**new_gate, "program": world.specialisation.pk},
            vendor_wide=True,
            program="specialisation",
        )
    )
    cases.append(
        write(
            "PUT",
            f"{V1}/gates/{world.draft_gate.pk}/",
            200,
            body={**new_gate, "name": "Renamed draft"},
            visible=p.sees_gate("draft"),
            vendor_wide=True,
            program="main",
        )
    )
    # Moving a gate into a program takes the right to manage both.
    cases.append(
        write(
            "PATCH",
            f"{V1}/gates/{world.draft_gate.pk}/",
            200,
            body={"program": world.specialisation.pk},
            visible=p.sees_gate("draft"),
            vendor_wide=True,
            program="main" if "specialisation" in p.manages else "specialisation",
        )
    )
    cases.append(
        write("POST", f"{V1}/gates/simulate/", 200, body={"gate": world.silver_gate.pk}, vendor_wide=True)
    )

    # --- partners: created by vendor-wide staff, changed and moved by those holding the permissions -
    new_partner = {
        "name": "Matrix partner",
        "partner_type": "msp",
        "business_model": "managed",
        "country": "DE",
        "region": "emea",
    }
    cases.append(write("POST", f"{V1}/partners/", 201, body=new_partner, vendor_wide=True))
    lifecycle = {"onboard": 409, "activate": 409, "suspend": 200, "reinstate": 409, "terminate": 200}
    for org in ORGS:
        partner = world.acme if org == "acme" else world.globex
        url = f"{V1}/partners/{partner.pk}/"
        visible = org in p.orgs
        cases.append(write("PATCH", url, 200, body={"name": f"{org} renamed"}, visible=visible))
        replaced = new_partner | {"region": partner.region, "country": partner.country.code}
        cases.append(write("PUT", url, 200, body=replaced, visible=visible))
        for command, ok in lifecycle.items():
            cases.append(write("POST", f"{url}{command}/", ok, body={"reason": "Matrix"}, visible=visible))

    # --- teams: memberships (its own organisation's for a partner user), logins (staff only) -------
    for org in ORGS:
        partner = world.acme if org == "acme" else world.globex
        membership = extra["membership"][org]
        seen = org in p.orgs and p.kind != "distributor"  # a distributor sees its own logins only
        url = f"{V1}/memberships/{membership.pk}/"
        cases.append(read(url, seen))
        cases.append(write("PATCH", url, 200, body={"role": "technical"}, visible=seen))
        cases.append(write("DELETE", url, 204, visible=seen))
        invite = write(
            "POST",
            f"{V1}/memberships/",
            201,
            body={"partner": partner.pk, "email": f"invitee@{org}.example.com", "role": "sales"},
        )
        if invite.expected == 201 and org not in p.orgs:
            invite.expected = 400  # a partner named in a body and not visible is unknown
        cases.append(invite)
        login = membership.user
        login_seen = p.staff and org in p.orgs
        cases.append(read(f"{V1}/users/{login.pk}/", login_seen))
        for command in ("deactivate", "reactivate"):
            if p.kind == "anonymous":
                status = 401
            elif p.read_only_token:
                status = 403
            elif not login_seen:
                status = 404
            else:
                status = 200 if p.administrator else 403
            cases.append(Case("POST", f"{V1}/users/{login.pk}/{command}/", status, body={}))
    cases.append(
        read(
            f"{V1}/memberships/",
            list_ids={extra["membership"][org].pk: org in p.orgs and p.kind != "distributor" for org in ORGS},
        )
    )
    cases.append(
        read(
            f"{V1}/users/",
            list_ids={extra["membership"][org].user_id: p.staff and org in p.orgs for org in ORGS},
        )
    )
    cases.append(not_allowed("POST", f"{V1}/users/"))
    cases.append(not_allowed("PATCH", f"{V1}/users/{extra['membership']['acme'].user_id}/"))

    # --- tier overrides: staff holding the partner tiers' permissions, for the partners they see ---
    for org in ORGS:
        partner = world.acme if org == "acme" else world.globex
        override = write(
            "POST",
            f"{V1}/partner-tiers/override/",
            200,
            body={
                "partner": partner.pk,
                "program": world.program.pk,
                "tier": world.gold.pk,
                "reason": "Matrix",
            },
        )
        if override.expected == 200 and org not in p.orgs:
            override.expected = 400
        cases.append(override)
        row = world.of(org, "partner_tier")
        # No override in force: those allowed learn there is nothing to end.
        cases.append(
            write("POST", f"{V1}/partner-tiers/{row.pk}/end-override/", 409, body={}, visible=org in p.orgs)
        )

    # --- re-evaluation -------------------------------------------------------------------------------
    for org in ORGS:
        partner = world.acme if org == "acme" else world.globex
        case = write("POST", f"{V1}/evaluations/", 202, body={"partner": partner.pk})
        if case.expected == 202 and org not in p.orgs:
            case.expected = 400  # a partner named in a body and not visible is unknown
        cases.append(case)
    cases.append(write("POST", f"{V1}/evaluations/", 202, body={"all": True}, vendor_wide=True))

    # --- exchange rates: read by everybody signed in, changed by staff for every partner ----------
    rate = extra["rate"]
    cases.append(read(f"{V1}/exchange-rates/", list_ids={rate.pk: True}))
    cases.append(read(f"{V1}/exchange-rates/{rate.pk}/"))
    new_rate = {"currency": "GBP", "valid_from": "2026-01-01", "rate": "1.25"}
    cases.append(write("POST", f"{V1}/exchange-rates/", 201, body=new_rate, vendor_wide=True))
    cases.append(
        write("PATCH", f"{V1}/exchange-rates/{rate.pk}/", 200, body={"rate": "1.2"}, vendor_wide=True)
    )
    cases.append(
        write(
            "PUT",
            f"{V1}/exchange-rates/{rate.pk}/",
            200,
            body={"currency": "EUR", "valid_from": "2020-01-01", "rate": "1.15"},
            vendor_wide=True,
        )
    )
    cases.append(write("DELETE", f"{V1}/exchange-rates/{rate.pk}/", 204, vendor_wide=True))

    # --- reference codes, the caller, methods that do not exist --------------------------------------
    references = {
        "certification-types": (world.cert_type, {"code": "architect", "name": "A", "track": "technical"}),
        "product-lines": (world.product_line, {"code": "security", "name": "Security"}),
        "activity-types": (world.activity_type, {"code": "webinar", "name": "Webinar"}),
        "service-offerings": (world.offering, {"code": "managed-soc", "name": "Managed SOC"}),
    }
    for route, (code, new_code) in references.items():
        cases.append(read(f"{V1}/{route}/", list_ids={code.pk: True}))
        cases.append(read(f"{V1}/{route}/{code.pk}/"))
        cases.append(write("POST", f"{V1}/{route}/", 201, body=new_code, vendor_wide=True))
        cases.append(write("PATCH", f"{V1}/{route}/{code.pk}/", 200, body={"name": "x"}, vendor_wide=True))
        cases.append(
            write(
                "PUT", f"{V1}/{route}/{code.pk}/", 200, body={**new_code, "code": code.code}, vendor_wide=True
            )
        )
        # Facts name every code of the world: still in use.
        cases.append(write("DELETE", f"{V1}/{route}/{code.pk}/", 409, vendor_wide=True))
    cases.append(write("DELETE", f"{V1}/product-lines/{extra['unused_line'].pk}/", 204, vendor_wide=True))
    cases.append(read(f"{V1}/me/"))
    cases.append(read(f"{V1}/"))
    # Program ROI and the leaderboards count what each caller sees (the door): every identity may ask.
    cases.append(read(f"{V1}/analytics/roi/"))
    cases.append(not_allowed("POST", f"{V1}/analytics/roi/"))
    cases.append(read(f"{V1}/analytics/leaderboards/"))
    # Cohorts too: a partner's user sees itself alone, too few to compare, but may ask.
    cases.append(read(f"{V1}/analytics/cohorts/?cohort=mdf"))
    cases.append(not_allowed("POST", f"{V1}/analytics/cohorts/?cohort=mdf"))
    cases.append(read(f"{V1}/analytics/lifetime/"))
    cases.append(not_allowed("POST", f"{V1}/analytics/lifetime/"))
    # A partner's own figures: its users' only; anyone else belongs to no partner (403).
    my_figures = 401 if p.kind == "anonymous" else 200 if p.kind == "partner" else 403
    cases.append(Case("GET", f"{V1}/analytics/my-figures/", my_figures))
    cases.append(not_allowed("POST", f"{V1}/analytics/my-figures/"))
    cases.append(not_allowed("POST", f"{V1}/me/"))
    cases.append(not_allowed("DELETE", f"{V1}/partners/{world.acme.pk}/"))
    cases.append(not_allowed("PATCH", f"{V1}/sales/{world.of('acme', 'sale').pk}/"))

    # --- deals: the services decide who acts ---------------------------------------------------------
    def command(method, url, *, visible, allowed, ok, body=None):
        if p.kind == "anonymous":
            status = 401
        elif p.read_only_token:
            status = 403
        elif not visible:
            status = 404
        else:
            status = ok if allowed else 403
        return Case(method, url, status, body=body)

    sellers = p.kind == "partner" and p.role in {"admin", "sales"}
    for org in ORGS:
        partner = world.acme if org == "acme" else world.globex
        deal = extra["deals"][org]
        visible = org in p.orgs
        cases.append(read(f"{V1}/deals/{deal.pk}/", visible))
        register = command(
            "POST",
            f"{V1}/deals/",
            visible=True,
            allowed=sellers and visible,
            ok=201,
            body=extra["registration"] | {"partner": partner.pk},
        )
        if register.expected in (201, 403) and not visible and not p.read_only_token:
            register.expected = 400  # naming a partner one cannot see
        cases.append(register)
        deciders = (p.staff and p.writes) or p.kind == "distributor"
        cases.append(
            command("POST", f"{V1}/deals/{deal.pk}/approve/", visible=visible, allowed=deciders, ok=200)
        )
        cases.append(
            command(
                "POST",
                f"{V1}/deals/{deal.pk}/reject/",
                visible=visible,
                allowed=deciders,
                ok=200,
                body={"reason": "Matrix"},
            )
        )
        cases.append(
            command(
                "POST",
                f"{V1}/deals/{deal.pk}/lost/",
                visible=visible,
                allowed=(p.staff and p.writes) or sellers,
                ok=200,
                body={},
            )
        )

        mdf_request = extra["mdf"][org]
        mdf_visible = visible and p.kind != "distributor"  # MDF is between vendor and partner
        cases.append(read(f"{V1}/mdf-requests/{mdf_request.pk}/", mdf_visible))
        cases.append(
            command(
                "POST",
                f"{V1}/mdf-requests/{mdf_request.pk}/approve/",
                visible=mdf_visible,
                allowed=p.staff and p.writes,
                ok=200,
                body={},
            )
        )
        cases.append(
            command(
                "POST",
                f"{V1}/mdf-requests/{mdf_request.pk}/withdraw/",
                visible=mdf_visible,
                allowed=p.kind == "partner" and p.role == "admin",
                ok=200,
            )
        )
        create = command(
            "POST",
            f"{V1}/mdf-requests/",
            visible=True,
            allowed=p.kind == "partner" and p.role == "admin" and visible,
            ok=201,
            body=extra["mdf_body"] | {"partner": partner.pk},
        )
        if create.expected in (201, 403) and not visible and not p.read_only_token:
            create.expected = 400
        cases.append(create)
    cases.append(read(f"{V1}/deals/", list_ids={extra["deals"][org].pk: org in p.orgs for org in ORGS}))

    # --- integration tokens: people manage their own (superusers everyone's); tokens none -----------
    def tokens_case(method, url, ok, *, body=None, list_ids=None):
        status = 401 if p.kind == "anonymous" else 403 if p.token else ok
        return Case(method, url, status, body=body, list_ids=list_ids if status == 200 else {})

    tokens = extra["tokens"]
    cases.append(
        tokens_case(
            "GET", f"{V1}/tokens/", 200, list_ids={tokens[org].pk: org in p.tokens_seen for org in ORGS}
        )
    )
    for org in ORGS:
        seen = 200 if org in p.tokens_seen else 404
        cases.append(tokens_case("GET", f"{V1}/tokens/{tokens[org].pk}/", seen))
        cases.append(tokens_case("POST", f"{V1}/tokens/{tokens[org].pk}/revoke/", seen))
    issue = {"name": "Matrix token", "all_partners": True}
    cases.append(tokens_case("POST", f"{V1}/tokens/", 201 if p.staff else 403, body=issue))
    cases.append(tokens_case("POST", f"{V1}/tokens/", 400 if p.staff else 403, body={"name": "No partners"}))
    cases.append(
        not_allowed("DELETE", f"{V1}/tokens/{tokens['acme'].pk}/")
        if not p.token
        else Case("DELETE", f"{V1}/tokens/{tokens['acme'].pk}/", 403)
    )
    cases.append(
        read(
            f"{V1}/mdf-requests/",
            list_ids={extra["mdf"][org].pk: org in p.orgs and p.kind != "distributor" for org in ORGS},
        )
    )
    return cases


def client_body(route: str, obj) -> dict:
    """The whole of a definition as a PUT sends it."""
    if route == "programs":
        return {"name": obj.name, "slug": obj.slug, "kind": obj.kind}
    if route == "tiers":
        return {"program": obj.program_id, "name": obj.name, "rank": obj.rank}
    return {
        "program": obj.program_id,
        "name": obj.name,
        "kind": obj.kind,
        "percent": None if obj.percent is None else str(obj.percent),
    }
