"""The channel manager's summary in Chromium: its four charts draw the figures their tables give,
their text stays readable at a phone's width, and the page never gets wider than the screen."""

import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARTS = ["summary-tiers", "summary-passed", "summary-pipeline", "summary-mdf"]
# The size, in CSS pixels, at which a chart's tick labels reach the screen: its font size scaled
# by how much the canvas was shrunk to fit (a canvas drawn wide and squeezed shrinks its text).
TEXT_SIZE = """(id) => {
  const canvas = document.querySelector(`canvas[data-chart='${id}']`);
  const chart = Chart.getChart(canvas);
  const drawn = canvas.width / window.devicePixelRatio;
  return Chart.defaults.font.size * (canvas.getBoundingClientRect().width / drawn);
}"""


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_the_summary_charts_draw_and_read_at_both_widths(page, demo, width, name):
    from playwright.sync_api import expect

    log_in(page, "manager", "demo")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/portal/manager/", wait_until="networkidle")
    for chart_id in CHARTS:
        expect(page.locator(f"canvas[data-chart='{chart_id}']")).to_have_attribute("data-rendered", "true")
        assert page.evaluate(TEXT_SIZE, chart_id) >= 11, chart_id
    # What the tier chart draws is what its table says.
    drawn = page.evaluate(
        "Chart.getChart(document.querySelector(\"canvas[data-chart='summary-tiers']\")).data.datasets[0].data"
    )
    shown = page.locator("table[data-chart-table='summary-tiers'] tbody td").all_inner_texts()
    assert sorted(drawn) == sorted(int(n) for n in shown)
    expect(page.get_by_role("heading", name="Closest to their next tier")).to_be_visible()
    expect(page.locator(".closest-list li").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / f"manager-summary-{name}.png"), full_page=True)
