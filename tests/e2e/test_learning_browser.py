"""Learning in a real headless Chromium against the demo: the partner opens the catalogue, enrols in
the demo course, marks its module done (htmx), fails the quiz, then passes it and completes the
course. Screenshots of each step go to test-results/e2e/learning-*.png.
"""

import re

import pytest

from enablement.models import Completion, QuizAttempt
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import SHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _answer(page, question: str, *choices: str) -> None:
    group = page.get_by_role("group", name=re.compile(re.escape(question)))
    for choice in choices:
        group.get_by_label(choice, exact=True).check()


def test_a_partner_enrols_completes_a_module_fails_then_passes_the_quiz(page, demo):
    from playwright.sync_api import expect

    log_in(page, "partner", "demo")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Learning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Learning")
    expect(page.get_by_role("heading", name=re.compile("Sales Engineer"))).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "learning-01-catalogue.png"), full_page=True)

    page.get_by_role("table").get_by_role("link", name="Demonstrating the platform").click()
    page.get_by_role("button", name="Enrol in this course").click()
    expect(page.get_by_text("You are enrolled in “Demonstrating the platform”.")).to_be_visible()

    # Marking the module done swaps the module list in place (htmx).
    page.get_by_role("button", name="Mark “The demo script” done").click()
    expect(page.locator("#modules").get_by_text("Done", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Mark “The demo script” done")).to_have_count(0)
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "learning-02-course.png"), full_page=True)

    page.get_by_role("link", name="Take the quiz").click()
    # A first try: one question left out is pointed out next to it.
    _answer(page, "Where does the standard demonstration start?", "The settings")
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_text("Choose at least one answer.", exact=True)).to_be_visible()
    expect(page.locator("[data-error-summary]")).to_be_focused()
    _answer(page, "Where does the standard demonstration start?", "The settings")
    _answer(page, "Which of these are add-ons?", "Reporting")
    _answer(page, "What does the demonstration end on?", "The pricing page")
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", name="Not passed yet")).to_be_visible()
    expect(page.get_by_text("You scored 33 % (1 of 3 right); the pass mark is 70 %.")).to_be_visible()
    expect(page.get_by_text("2 attempts left.", exact=True)).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "learning-03-quiz-failed.png"), full_page=True)

    _answer(page, "Where does the standard demonstration start?", "The dashboard")
    _answer(page, "Which of these are add-ons?", "Reporting", "Backup")
    _answer(page, "What does the demonstration end on?", "The pricing page")
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", name="Passed", exact=True)).to_be_visible()
    expect(page.get_by_text("You completed the course.")).to_be_visible()
    page.screenshot(path=str(SHOTS / "learning-04-quiz-passed.png"), full_page=True)

    assert QuizAttempt.objects.filter(person__user__username="partner").count() == 2
    assert Completion.objects.filter(
        person__user__username="partner", course__code="demonstrating-the-platform"
    ).exists()

    # The catalogue shows the course completed.
    page.get_by_role("link", name="Learning").first.click()
    row = page.get_by_role("row", name=re.compile("Demonstrating the platform"))
    expect(row.get_by_text("Completed")).to_be_visible()
