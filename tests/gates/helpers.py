"""Helpers for gate tests: measure leaves through the set-based engine and the naive reference."""

import datetime
from typing import Any

from core.exchange import daily_rates_extend
from gates.engine import Measurer
from gates.metrics import load_references
from gates.reference import measure_leaf
from gates.validation import parse_criteria


def measure_both(
    criteria: dict, partner, as_of: datetime.date, currency: str = "USD"
) -> tuple[list[Any], list[Any]]:
    """The leaf values for one partner from the engine (in a range of all partners) and the reference."""
    daily_rates_extend(as_of)
    refs = load_references()
    tree = parse_criteria(criteria, default_currency=currency, references=refs)
    measurer = Measurer([tree], as_of=as_of, references=refs)
    keys = measurer.keys_for(tree)
    engine = [measurer.measure(1, 10**9)[partner.pk][key] for key in keys]
    reference = [measure_leaf(leaf, partner, as_of, refs) for leaf in tree.leaves]
    return engine, reference


def measure(criteria: dict, partner, as_of: datetime.date, currency: str = "USD") -> Any:
    engine, reference = measure_both(criteria, partner, as_of, currency)
    assert engine == reference, (engine, reference)
    return engine[0] if len(engine) == 1 else engine
