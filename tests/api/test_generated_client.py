"""A client generated from the served OpenAPI document runs the seed's example program end to end.

The generator is openapi-python-client, as an integrator would run it; any warning it gives
(a schema it cannot read, a model it had to skip) fails the test, and so does any step of the
flow in ``client_flow`` that the server refuses or the generated models cannot read.
"""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gates.models import GateStatus, PartnerTier
from tests.api import client_flow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("generated-client")]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def generate(url: str, into: Path) -> Path:
    schema = into / "schema.json"
    with urllib.request.urlopen(f"{url}/api/schema/?format=json", timeout=30) as response:  # noqa: S310 (the live test server)
        schema.write_bytes(response.read())
    json.loads(schema.read_text())  # the document is JSON
    package = into / "prm_client"
    environment = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    generated = subprocess.run(  # noqa: S603 (our own tool, fixed arguments)
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema),
            "--output-path",
            str(package),
            "--meta",
            "none",
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr
    return package


@pytest.fixture
def generated_client(live_server, tmp_path):
    package = generate(live_server.url, tmp_path)
    sys.path.insert(0, str(package.parent))
    yield package.name
    sys.path.remove(str(package.parent))
    for name in [name for name in sys.modules if name == package.name or name.startswith(f"{package.name}.")]:
        del sys.modules[name]


def test_an_integrator_builds_and_runs_a_program_through_the_generated_client_alone(
    generated_client, live_server, channel_manager, issue_token
):
    _, secret = issue_token(channel_manager)

    outcome = client_flow.run(generated_client, url=live_server.url, token=secret, suffix="seed")

    (program,) = [p for p in outcome.standing["programs"] if p["program"]["id"] == outcome.program]
    assert program["tier"]["tier_name"] == "Gold"
    (gate,) = program["gates"]
    assert (gate["status"], gate["met"], gate["total"]) == ("passed", 2, 2)
    assert [leaf["passed"] for leaf in gate["criteria"]] == [True, True]
    # Sales this quarter leave the window at its end: a forecast says so when the end is near.
    assert gate["at_risk"] == (gate["forecast"] is not None)
    assert PartnerTier.objects.get(partner_id=outcome.partner, program_id=outcome.program).tier.name == "Gold"
    assert GateStatus.objects.get(partner_id=outcome.partner, gate_id=outcome.gate).status == "passed"
