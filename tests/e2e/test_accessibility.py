"""Every portal page, for every role, at desktop and phone width: no critical or serious axe-core
violation, and nothing wider than a phone's screen. Each page is saved as a screenshot at both
widths (test-results/e2e/pages/) for review.
"""

import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PAGES = {
    "partner": [
        "/portal/",
        "/portal/programs/",
        "/portal/deals/",
        "/portal/deals/new/",
        "/portal/mdf/",
        "/portal/mdf/new/",
        "/portal/team/",
        "/portal/onboarding/",
        "/portal/profile/",
        "/become-a-partner/",
        "/portal/figures/",
        "/portal/learning/",
        "/portal/learning/team/",
        "/portal/announcements/",
        "/portal/incentives/",
        "/accounts/password_change/",
        "/portal/inbox/",
        "/portal/inbox/preferences/",
    ],
    "distributor": [
        "/portal/",
        "/portal/partners/",
        "/portal/deals/",
        "/portal/incentives/",
        "/portal/inbox/",
    ],
    "manager": [
        "/portal/manager/",
        "/portal/partners/",
        "/portal/deals/",
        "/portal/mdf/",
        "/portal/incentives/",
        "/portal/incentives/program-cost/",
        "/portal/manager/analytics/funnel/",
        "/portal/manager/analytics/tiers/",
        "/portal/manager/analytics/roi/",
        "/portal/manager/analytics/leaderboards/",
        "/portal/manager/analytics/cohorts/?cohort=certification:cloud-architect",
        "/portal/manager/analytics/lifetime/",
        "/portal/inbox/",
    ],
}
WIDTHS = {"desktop": 1280, "phone": 390}
# The outermost elements that reach past the screen's edge, to say what widens a page.
WIDEST = """(width) => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > width + 1 && !e.parentElement.closest('.table-wrap'))
  .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)"""


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_is_accessible_and_fits_a_phone(page, demo, role):
    log_in(page, role, "demo")
    found: dict[str, list[str]] = {}
    shots = SHOTS / "pages"
    shots.mkdir(parents=True, exist_ok=True)
    for path in PAGES[role]:
        for name, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(path, wait_until="networkidle")
            assert response is not None and response.status == 200, (path, response and response.status)
            # Measured before the full-page screenshot, which resizes the page while it shoots.
            overflow = page.evaluate("document.documentElement.scrollWidth")
            problems = serious_violations(page)
            slug = path.strip("/").replace("/", "-") or "home"
            page.screenshot(path=str(shots / f"{role}-{slug}-{name}.png"), full_page=True)
            if overflow > width:
                problems.append(
                    f"the page is {overflow} px wide at {width} px: {page.evaluate(WIDEST, width)}"
                )
            if problems:
                found[f"{path} at {width} px"] = problems
    assert found == {}
