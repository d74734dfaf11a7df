"""The seed's example program, built and run through a client generated from the OpenAPI document.

Nothing here knows the API but what the generated package says: the operations, their
bodies as the schema's models, their answers parsed into them. If the schema lies (a body
the server refuses, an answer the models cannot read) the flow fails.

    .venv/bin/openapi-python-client generate --url http://127.0.0.1:8000/api/schema/?format=json \\
        --output-path /tmp/prm_client --meta none
    PYTHONPATH=/tmp .venv/bin/python tests/api/client_flow.py --url http://127.0.0.1:8000 --token prm_…

The token must be a read-write one of a channel manager who may create programs and partners.
"""

import argparse
import datetime
import importlib
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


@dataclass
class Outcome:
    partner: int
    program: int
    gate: int
    run: int
    standing: dict[str, Any]


class FlowError(AssertionError):
    pass


def _expect(response, status: HTTPStatus, what: str):
    if response.status_code != status:
        raise FlowError(f"{what}: expected {status.value}, got {response.status_code}: {response.content!r}")
    if response.parsed is None:
        raise FlowError(f"{what}: the generated models could not read the answer: {response.content!r}")
    return response.parsed


def run(package: str, *, url: str, token: str, suffix: str | None = None, timeout: float = 60.0) -> Outcome:
    """Build a program with two tiers and a gate, a partner and its facts; evaluate; read its standing."""
    client_module = importlib.import_module(package)
    models = importlib.import_module(f"{package}.models")
    suffix = suffix or uuid.uuid4().hex[:8]
    client = client_module.AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=False)
    today = datetime.date.today().isoformat()

    def call(name: str, what: str, *path, body=None, status=HTTPStatus.CREATED, command=True):
        """The generated operation ``name``; commands carry a fresh Idempotency-Key."""
        kwargs: dict[str, Any] = {"client": client}
        if body is not None:
            kwargs["body"] = body
        if command:
            kwargs["idempotency_key"] = str(uuid.uuid4())
        operation = importlib.import_module(f"{package}.api.v1.{name}")
        return _expect(operation.sync_detailed(*path, **kwargs), status, what)

    def send(kind: str, model: str, records: list[dict]) -> None:
        batch = getattr(models, model).from_dict({"source": f"crm-{suffix}", "records": records})
        report = call(f"v1_{kind}_bulk_create", kind, body=batch, status=HTTPStatus.OK).to_dict()
        if report["rejected"] or report["created"] != report["received"]:
            raise FlowError(f"{kind} not all created: {report['results']}")

    with client:
        line = call(
            "v1_product_lines_create",
            "a product line",
            body=models.ProductLineRequest(code=f"cloud-{suffix}", name="Cloud"),
        )
        certification = call(
            "v1_certification_types_create",
            "a certification type",
            body=models.CertificationTypeRequest.from_dict(
                {"code": f"se-{suffix}", "name": "Sales engineer", "track": "presales"}
            ),
        )
        program = call(
            "v1_programs_create",
            "a program",
            body=models.ProgramRequest.from_dict(
                {"name": f"Reseller program {suffix}", "slug": f"resellers-{suffix}", "base_currency": "USD"}
            ),
        )
        tiers = {
            name: call(
                "v1_tiers_create",
                f"the {name} tier",
                body=models.TierRequest(program=program.id, name=name, rank=rank),
            )
            for rank, name in ((1, "Silver"), (2, "Gold"))
        }
        # Gold: two certified sales engineers and 500,000 USD of sales this quarter.
        gate = call(
            "v1_gates_create",
            "the Gold gate",
            body=models.GateRequest.from_dict(
                {
                    "program": program.id,
                    "name": "Gold",
                    "state": "active",
                    "currency": "USD",
                    "unlocks_tier": tiers["Gold"].id,
                    "criteria": {
                        "all": [
                            {
                                "metric": "certified_people",
                                "certification_types": [certification.code],
                                "op": ">=",
                                "target": 2,
                            },
                            {
                                "metric": "sales_amount",
                                "window": {"kind": "quarter_to_date"},
                                "op": ">=",
                                "target": "500000",
                                "currency": "USD",
                            },
                        ]
                    },
                }
            ),
        )
        partner = call(
            "v1_partners_create",
            "a partner",
            body=models.PartnerRequest.from_dict(
                {
                    "name": f"Northwind {suffix}",
                    "partner_type": "reseller",
                    "business_model": "resell",
                    "country": "GB",
                    "region": "emea",
                }
            ),
        )
        for command in ("v1_partners_onboard_create", "v1_partners_activate_create"):
            call(command, command, partner.id, status=HTTPStatus.OK)

        send(
            "certifications",
            "CertificationBatchRequest",
            [
                {
                    "external_id": f"cert-{n}",
                    "partner": partner.id,
                    "person_email": f"engineer{n}.{suffix}@northwind.example",
                    "person_first_name": "Engineer",
                    "person_last_name": str(n),
                    "certification_type": certification.code,
                    "issued_on": today,
                }
                for n in (1, 2)
            ],
        )
        send(
            "sales",
            "SaleBatchRequest",
            [
                {
                    "external_id": f"sale-{n}",
                    "partner": partner.id,
                    "amount": "250000.00",
                    "currency": "USD",
                    "product_line": line.code,
                    "closed_on": today,
                }
                for n in (1, 2)
            ],
        )

        queued = call(
            "v1_evaluations_create",
            "an evaluation",
            body=models.EvaluationRequestRequestType0(partner=partner.id),
            status=HTTPStatus.ACCEPTED,
        )
        deadline = time.monotonic() + timeout
        while True:
            run = call(
                "v1_evaluation_runs_retrieve", "the run", queued.run, status=HTTPStatus.OK, command=False
            )
            if run.finished_at:
                break
            if time.monotonic() > deadline:
                raise FlowError(f"the evaluation run {queued.run} did not finish in {timeout} s")
            time.sleep(0.5)
        if str(run.state) != "done":
            raise FlowError(f"the evaluation run {queued.run} ended {run.state}")

        standing = call(
            "v1_partners_standing_retrieve", "the standing", partner.id, status=HTTPStatus.OK, command=False
        )
    return Outcome(
        partner=partner.id, program=program.id, gate=gate.id, run=queued.run, standing=standing.to_dict()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--package", default="prm_client")
    arguments = parser.parse_args()
    outcome = run(arguments.package, url=arguments.url, token=arguments.token)
    for program in outcome.standing["programs"]:
        tier = program["tier"] or {}
        print(f"{program['program']['name']}: {tier.get('tier_name') or 'no tier'}")  # noqa: T201 (a command-line script)


if __name__ == "__main__":
    main()
