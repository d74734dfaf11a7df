"""Services queue tasks by name: every name they use is a registered task, and a wrong one fails loudly."""

import re
from pathlib import Path

import pytest
from celery.exceptions import NotRegistered

from core.background import task

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [path for path in ROOT.glob("*/**/*.py") if not {".venv", "tests", "bench"} & set(path.parts)]
NAMES = sorted({name for path in PRODUCT for name in re.findall(r'\btask\("([\w.]+)"\)', path.read_text())})


def test_the_services_name_tasks():
    assert "gates.tasks.evaluate_all_gates" in NAMES
    assert "deals.tasks.notify_deal_event" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_task_a_service_names_is_registered(name):
    assert task(name).name == name


def test_an_unknown_name_raises_rather_than_sending_a_message_nobody_consumes():
    with pytest.raises(NotRegistered):
        task("gates.tasks.no_such_task")
