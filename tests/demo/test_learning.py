"""The demo's catalogue is not empty: courses, a path, a quiz, and Acme's people part-way through."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from enablement.models import Choice, Completion, Course, Enrolment, LearningPath, Module, Question, Quiz

pytestmark = pytest.mark.django_db

MODELS = (Course, Module, Quiz, Question, Choice, LearningPath, Enrolment, Completion)


def test_seeding_twice_leaves_one_catalogue():
    call_command("seed_demo", "--partners", "3")
    first = {model.__name__: model.objects.count() for model in MODELS}
    call_command("seed_demo", "--partners", "3")
    assert {model.__name__: model.objects.count() for model in MODELS} == first
    assert first["Course"] == 3 and first["Question"] == 3 and first["Completion"] >= 2


def test_the_demo_partner_sees_the_catalogue_and_the_gate_the_path_helps_with(client):
    call_command("seed_demo", "--partners", "3")
    client.force_login(get_user_model().objects.get(username="partner"))
    page = client.get(reverse("portal:learning")).content.decode()
    assert "Platform basics" in page and "Sales Engineer" in page
    assert "1 of 2 modules" in page  # the demo login's own progress
    team = client.get(reverse("portal:learning_team")).content.decode()
    assert "Counts toward Gold: at least 5 people holding a valid sales-engineer certification" in team
