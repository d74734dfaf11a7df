"""The channel manager's admin in Chromium at 1366 px: the main lists keep their key columns in
view without widening the page, and the lists and change pages of programs, gates, partners, deals
and both ledgers carry no critical or serious axe-core violation."""

import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTH = 1366
# Each main list and the column headings that must stay on screen at that width.
LISTS = {
    "programs/program": ["Name", "Kind"],
    "gates/gate": ["Name", "State", "Unlocks tier"],
    "partners/partner": ["Name"],
    "deals/deal": ["Reference", "State", "Expected value", "Protected until"],
    "deals/mdfrequest": ["Reference", "Status", "Requested", "Approved / claimed"],
    "deals/mdfledgerentry": ["Move", "Amount", "Actor"],
    "incentives/ledgerentry": ["Partner", "Amount", "State", "Period"],
    "gates/partnertier": ["Partner", "Tier", "Override"],
}
CHANGE_PAGES = ["programs/program", "gates/gate", "partners/partner", "deals/deal", "deals/mdfledgerentry"]
# The headings of the list's table whose right edge passes the screen's, with that edge.
OFF_SCREEN = """(width) => [...document.querySelectorAll('#result_list thead th')]
  .filter((th) => th.getBoundingClientRect().right > width)
  .map((th) => `${th.innerText.trim()} ${Math.round(th.getBoundingClientRect().right)}px`)"""


def _first_change_link(page) -> str:
    return (
        page.locator("#result_list tbody tr th a, #result_list tbody tr td a").first.get_attribute("href")
        or ""
    )


@pytest.mark.parametrize("username", ["manager", "admin"])
def test_the_admin_lists_fit_1366_px_and_axe_finds_nothing_serious(page, demo, username):
    from playwright.sync_api import expect

    log_in(page, username, "demo")
    page.set_viewport_size({"width": WIDTH, "height": 900})
    shots = SHOTS / "admin"
    shots.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    for model, headings in LISTS.items():
        response = page.goto(f"/admin/{model}/", wait_until="networkidle")
        assert response is not None and response.status == 200, model
        for heading in headings:
            expect(page.locator("#result_list thead th", has_text=heading).first).to_be_visible()
        problems = serious_violations(page)
        if off := page.evaluate(OFF_SCREEN, WIDTH):
            problems.append(f"columns past {WIDTH} px: {off}")
        if (wide := page.evaluate("document.documentElement.scrollWidth")) > WIDTH:
            problems.append(f"the page is {wide} px wide")
        page.screenshot(path=str(shots / f"{username}-{model.replace('/', '-')}.png"), full_page=True)
        if model in CHANGE_PAGES:
            page.goto(_first_change_link(page), wait_until="networkidle")
            problems += [f"change page: {problem}" for problem in serious_violations(page)]
            page.screenshot(
                path=str(shots / f"{username}-{model.replace('/', '-')}-change.png"), full_page=True
            )
        if problems:
            found[model] = problems
    assert not found, "\n".join(
        f"{model}: {problem}" for model, problems in found.items() for problem in problems
    )
