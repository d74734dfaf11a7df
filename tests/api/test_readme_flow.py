"""The README's API flow, with curl and with Python requests, runs as it stands there.

Each block is read from README.md (after its ``<!-- readme-flow: … -->`` marker) and run
against a live server with ``PRM`` and ``TOKEN`` set: an edit to the README that breaks the
flow, or a change to the API that the README does not follow, fails here.
"""

import contextlib
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gates.models import PartnerTier
from partners.models import Partner

pytestmark = [pytest.mark.django_db(transaction=True)]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(name: str) -> str:
    match = re.search(rf"<!-- readme-flow: {name} -->\n```\w+\n(.*?)```", README.read_text(), re.DOTALL)
    assert match, f"README.md has no block marked readme-flow: {name}"
    return match.group(1)


@pytest.fixture
def api(live_server, channel_manager, issue_token):
    _, secret = issue_token(channel_manager)
    return f"{live_server.url}/api/v1", secret


def assert_the_partner_holds_gold() -> None:
    partner = Partner.objects.get(name="Northwind")
    assert PartnerTier.objects.get(partner=partner, program__slug="resellers").tier.name == "Gold"


def test_the_curl_flow(api):
    for tool in ("bash", "curl", "jq"):
        assert shutil.which(tool), f"the README's curl flow needs {tool}"
    prm, token = api

    finished = subprocess.run(  # noqa: S603 (the README's own script)
        ["bash", "-euo", "pipefail", "-c", readme_block("curl")],  # noqa: S607
        capture_output=True,
        text=True,
        env={**os.environ, "PRM": prm, "TOKEN": token},
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    last = finished.stdout.strip().splitlines()[-1]
    assert last == '{"program":"Resellers","tier":"Gold","gates":[{"name":"Gold","status":"passed"}]}'
    assert_the_partner_holds_gold()


def test_the_python_requests_flow(api):
    prm, token = api
    printed = io.StringIO()

    namespace = {"PRM": prm, "TOKEN": token}

    with contextlib.redirect_stdout(printed):
        exec(compile(readme_block("python"), "README.md", "exec"), namespace)  # noqa: S102 (the README's own example)
    namespace["api"].close()  # its kept-alive connection would hold a server thread, and its database session

    assert printed.getvalue().strip().splitlines()[-1] == "Resellers Gold ['passed']"
    assert_the_partner_holds_gold()
