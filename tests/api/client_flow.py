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
    v1 = importlib.import_module(f"{package}.api.v1")
    models = importlib.import_module(f"{package}.models")

    def operation(name: str):
        return importlib.import_module(f"{v1.__name__}.{name}")

    suffix = suffix or uuid.uuid4().hex[:8]
    client = client_module.AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=False)
    today = datetime.date.today()

    def key() -> str:
        return str(uuid.uuid4())

    with client:
        product_line = _expect(
            operation("v1_product_lines_create").sync_detailed(
                client=client,
                body=models.ProductLineRequest(code=f"cloud-{suffix}", name="Cloud"),
                idempotency_key=key(),
            ),
            HTTPStatus.CREATED,
            "a product line",
        )
        certification = _expect(
            operation("v1_certification_types_create").sync_detailed(
                client=client,
                body=models.CertificationTypeRequest.from_dict(
                    {"code": f"se-{suffix}", "name": "Sales engineer", "track": "presales"}
                ),
                idempotency_key=key(),
            ),
            HTTPStatus.CREATED,
            "a certification type",
        )
        program = _expect(
            operation("v1_programs_create").sync_detailed(
                client=client,
                body=models.ProgramRequest.from_dict(
                    {
                        "name": f"Reseller program {suffix}",
                        "slug": f"resellers-{suffix}",
                        "base_currency": "USD",
                    }
                ),
                idempotency_key=key(),
            ),
            HTTPStatus.CREATED,
            "a program",
        )
        tiers = {}
        for rank, name in ((1, "Silver"), (2, "Gold")):
            tiers[name] = _expect(
                operation("v1_tiers_create").sync_detailed(
                    client=client,
                    body=models.TierRequest(program=program.id, name=name, rank=rank),
                    idempotency_key=key(),
                ),
                HTTPStatus.CREATED,
                f"the {name} tier",
            )
        # Gold: two certified sales engineers and 500,000 USD of sales this quarter.
        gate = _expect(
            operation("v1_gates_create").sync_detailed(
                client=client,
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
                idempotency_key=key(),
            ),
            HTTPStatus.CREATED,
            "the Gold gate",
        )
        partner = _expect(
            operation("v1_partners_create").sync_detailed(
                client=client,
                body=models.PartnerRequest.from_dict(
                    {
                        "name": f"Northwind {suffix}",
                        "partner_type": "reseller",
                        "business_model": "resell",
                        "country": "GB",
                        "region": "emea",
                        "joined_on": (today - datetime.timedelta(days=400)).isoformat(),
                    }
                ),
                idempotency_key=key(),
            ),
            HTTPStatus.CREATED,
            "a partner",
        )
        for command in ("v1_partners_onboard_create", "v1_partners_activate_create"):
            _expect(
                operation(command).sync_detailed(partner.id, client=client, idempotency_key=key()),
                HTTPStatus.OK,
                command,
            )

        source = f"crm-{suffix}"
        certified = _expect(
            operation("v1_certifications_bulk_create").sync_detailed(
                client=client,
                body=models.CertificationBatchRequest.from_dict(
                    {
                        "source": source,
                        "records": [
                            {
                                "external_id": f"cert-{n}",
                                "partner": partner.id,
                                "person_email": f"engineer{n}.{suffix}@northwind.example",
                                "person_first_name": "Engineer",
                                "person_last_name": str(n),
                                "certification_type": certification.code,
                                "issued_on": today.isoformat(),
                            }
                            for n in (1, 2)
                        ],
                    }
                ),
                idempotency_key=key(),
            ),
            HTTPStatus.OK,
            "two certifications",
        )
        _accepted(certified, "certifications")
        sold = _expect(
            operation("v1_sales_bulk_create").sync_detailed(
                client=client,
                body=models.SaleBatchRequest.from_dict(
                    {
                        "source": source,
                        "records": [
                            {
                                "external_id": f"sale-{n}",
                                "partner": partner.id,
                                "amount": "250000.00",
                                "currency": "USD",
                                "product_line": product_line.code,
                                "closed_on": today.isoformat(),
                            }
                            for n in (1, 2)
                        ],
                    }
                ),
                idempotency_key=key(),
            ),
            HTTPStatus.OK,
            "two sales",
        )
        _accepted(sold, "sales")

        queued = _expect(
            operation("v1_evaluations_create").sync_detailed(
                client=client,
                body=models.EvaluationRequestRequestType0(partner=partner.id),
                idempotency_key=key(),
            ),
            HTTPStatus.ACCEPTED,
            "an evaluation",
        )
        run_id = queued.run
        deadline = time.monotonic() + timeout
        while True:
            evaluation = _expect(
                operation("v1_evaluation_runs_retrieve").sync_detailed(run_id, client=client),
                HTTPStatus.OK,
                "the evaluation run",
            )
            if evaluation.finished_at:
                break
            if time.monotonic() > deadline:
                raise FlowError(f"the evaluation run {run_id} did not finish in {timeout} s")
            time.sleep(0.5)
        if str(evaluation.state) != "done":
            raise FlowError(f"the evaluation run {run_id} ended {evaluation.state}")

        standing = _expect(
            operation("v1_partners_standing_retrieve").sync_detailed(partner.id, client=client),
            HTTPStatus.OK,
            "the partner's standing",
        )
    return Outcome(
        partner=partner.id, program=program.id, gate=gate.id, run=run_id, standing=standing.to_dict()
    )


def _accepted(report, what: str) -> None:
    outcomes = report.to_dict()
    if outcomes["rejected"] or outcomes["created"] != outcomes["received"]:
        raise FlowError(f"{what} not all created: {outcomes['results']}")


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
