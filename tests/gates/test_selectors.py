"""A criterion's bar agrees with whether it is met: full when met, never full when not."""

import datetime

import pytest

from core.money import is_currency
from criteria.tree import parse
from gates.metrics import SPECS, References
from gates.selectors import leaf_progress

TODAY = datetime.date(2026, 5, 20)


def _leaf(op: str, target):
    criteria = {"metric": "certified_people", "op": op, "target": target}
    return parse(criteria, metrics=SPECS, default_currency="USD", currencies=is_currency).leaves[0]


@pytest.mark.parametrize(
    ("op", "target", "value", "passed", "ratio"),
    [
        (">=", 5, 5, True, 1.0),
        (">=", 5, 3, False, 0.6),
        (">", 5, 6, True, 1.0),
        # All the way to the target without passing it: the bar stops short of full.
        (">", 5, 5, False, 0.99),
        (">=", 5, 9, True, 1.0),
        ("<=", 5, 7, False, 0.0),
    ],
)
def test_a_bar_is_full_only_when_its_criterion_is_met(op, target, value, passed, ratio):
    progress = leaf_progress(_leaf(op, target), value, References(), TODAY)
    assert progress.passed is passed
    assert progress.ratio == pytest.approx(ratio)
