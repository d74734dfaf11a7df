"""A channel manager builds a gate's criteria in the admin's visual builder, from an empty form, in Chromium."""

import json
import re

import pytest

from gates.models import Gate
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS
from tests.factories import CertificationTypeFactory, ProgramFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager():
    ProgramFactory(name="Partner Network", slug="partner-network", base_currency="USD")
    CertificationTypeFactory(code="sales-engineer")
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _login(page):
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))


def test_the_builder_makes_the_two_conditions_of_the_seed_and_says_them(page, manager):
    from playwright.sync_api import expect

    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    _login(page)
    page.goto("/admin/gates/gate/add/")
    builder = page.locator(".criteria-builder-tree")
    expect(builder.get_by_text("No condition yet: add one below.")).to_be_visible()
    page.get_by_label("Name").first.fill("Certified and selling")
    # The program is an autocomplete: its option is put in place as the widget would.
    page.evaluate(
        """() => {{ const s = document.getElementById('id_program');
                   const p = document.createElement('option');
                   p.value = '{}'; p.textContent = 'Partner Network'; p.selected = true; s.appendChild(p); }}""".format(
            __import__("programs.models", fromlist=["Program"]).Program.objects.get().pk
        )
    )

    # First condition, by keyboard: at least 5 people holding a valid sales-engineer certification.
    builder.get_by_role("button", name="Add a condition").focus()
    page.keyboard.press("Enter")
    builder.get_by_label("Metric").select_option("certified_people")
    assert problems == []
    builder.get_by_label(re.compile("^Certification types")).select_option(["sales-engineer"])
    builder.get_by_label("Comparison").select_option(">=")
    builder.get_by_label("Target").fill("5")
    builder.get_by_label("Target").press("Tab")

    # Second: at least 500,000 USD of won sales this quarter.
    builder.get_by_role("button", name="Add a condition").last.click()
    second = builder.locator("fieldset.cb-leaf").nth(1)
    second.get_by_label("Metric").select_option("sales_amount")
    second.get_by_label(re.compile("^Window")).select_option("quarter_to_date")
    second.get_by_label(re.compile("^Currency")).select_option("USD")
    second.get_by_label("Target").fill("500000")
    second.get_by_label("Target").press("Tab")

    preview = page.locator(".criteria-builder-description")
    sentence = (
        "At least 5 people holding a valid sales-engineer certification and "
        "at least 500,000.00 USD won sales this quarter."
    )
    expect(preview).to_have_text(sentence)
    # The JSON view follows the builder.
    written = json.loads(page.locator("#id_criteria").input_value())
    assert written["all"][0]["certification_types"] == ["sales-engineer"]
    assert written["all"][1]["window"] == {"kind": "quarter_to_date"}
    assert serious_violations(page, ".criteria-builder") == []
    page.screenshot(path=str(SHOTS / "criteria-builder.png"), full_page=True)

    # A problem goes beside the node it names.
    second.get_by_label("Target").fill("lots")
    second.get_by_label("Target").press("Tab")
    expect(second.locator(".cb-error")).to_contain_text("criteria.all[1].target")
    second.get_by_label("Target").fill("500000")
    second.get_by_label("Target").press("Tab")
    expect(preview).to_have_text(sentence)

    # Edited as JSON, the builder follows.
    text = page.locator("#id_criteria")
    page.get_by_text("Advanced: the criteria as JSON").click()
    tree = json.loads(text.input_value())
    tree["all"][0]["target"] = 6
    text.fill(json.dumps(tree))
    expect(preview).to_contain_text("At least 6 people")
    tree["all"][0]["target"] = 5
    text.fill(json.dumps(tree))
    expect(preview).to_have_text(sentence)

    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/gates/gate/$"))
    gate = Gate.objects.get(name="Certified and selling")
    assert gate.criteria["all"][1]["target"] == "500000"
    page.goto(f"/admin/gates/gate/{gate.pk}/change/")
    expect(page.locator(".criteria-builder-description")).to_have_text(sentence)
