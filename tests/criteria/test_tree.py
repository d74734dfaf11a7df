"""The criteria language on its own: no database."""

from decimal import Decimal

import pytest

from core.money import is_currency
from criteria.tree import CriteriaError, MetricSpec, Param, compare, evaluate, parse
from criteria.windows import Window
from gates.metrics import SPECS


def _parse(data, currency="USD"):
    return parse(data, metrics=SPECS, default_currency=currency, currencies=is_currency)


def _errors(data, currency="USD") -> list[str]:
    with pytest.raises(CriteriaError) as error:
        _parse(data, currency)
    return error.value.errors


SEED_GATE = {
    "all": [
        {"metric": "certified_people", "certification_types": ["sales-engineer"], "op": ">=", "target": 5},
        {
            "any": [
                {
                    "metric": "sales_amount",
                    "window": {"kind": "quarter_to_date"},
                    "op": ">=",
                    "target": "500000",
                },
                {
                    "not": {
                        "metric": "partner_attribute",
                        "attribute": "status",
                        "op": "in",
                        "target": ["suspended"],
                    }
                },
            ]
        },
    ]
}


def test_a_valid_tree_parses_into_ordered_leaves_with_paths():
    criteria = _parse(SEED_GATE)
    assert [leaf.path for leaf in criteria.leaves] == [
        "criteria.all[0]",
        "criteria.all[1].any[0]",
        "criteria.all[1].any[1].not",
    ]
    assert [leaf.index for leaf in criteria.leaves] == [0, 1, 2]
    sales = criteria.leaves[1]
    assert sales.target == Decimal("500000")
    assert sales.currency == "USD"
    assert sales.params["window"] == Window(kind="quarter_to_date")
    assert criteria.metrics() == {"certified_people", "sales_amount", "partner_attribute"}


def test_serialisation_round_trips():
    criteria = _parse(SEED_GATE)
    again = _parse(criteria.to_json())
    assert again.to_json() == criteria.to_json()
    assert again.leaves == criteria.leaves


@pytest.mark.parametrize(
    ("values", "passed"),
    [
        ([5, Decimal("0"), "active"], True),  # enough people; not suspended
        ([4, Decimal("900000"), "active"], False),  # one person short
        ([5, Decimal("0"), "suspended"], False),  # suspended and no sales
        ([5, Decimal("500000"), "suspended"], True),  # the sales branch carries the any
    ],
)
def test_all_any_not_decide_and_give_reasons(values, passed):
    criteria = _parse(SEED_GATE)
    outcome = evaluate(criteria, values)
    assert outcome.passed is passed
    assert [leaf.value for leaf in outcome.leaves] == values
    if not passed:
        assert outcome.failing()


def test_errors_name_their_place_in_the_tree():
    errors = _errors(
        {
            "all": [
                {"metric": "certified_people", "op": ">=", "target": "five"},
                {"any": [{"metric": "sales_volume", "op": ">=", "target": 1}]},
                {"metric": "sales_amount", "op": "≥", "target": 10},
                {"metric": "engagement_points", "op": ">="},
                {"metric": "sales_amount", "op": ">=", "target": 10, "currency": "ABC"},
                {"metric": "won_deals", "op": ">=", "target": 1, "colour": "red"},
            ]
        }
    )
    assert "criteria.all[0].target: expected a whole number." in errors
    assert any(e.startswith("criteria.all[1].any[0].metric: unknown metric 'sales_volume'") for e in errors)
    assert any(e.startswith("criteria.all[2].op: '≥' is not a comparison") for e in errors)
    assert "criteria.all[3].target: missing." in errors
    assert "criteria.all[4].currency: 'ABC' is not a known ISO 4217 currency." in errors
    assert "criteria.all[5]: unknown field(s) colour for metric won_deals." in errors


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], "criteria: expected an object"),
        ({"all": []}, "criteria.all: expected a non-empty list"),
        (
            {"all": [{"metric": "won_deals", "op": ">=", "target": 1}], "any": []},
            "criteria: a all branch takes nothing else",
        ),
        ({"xor": []}, "criteria: expected one of all, any, not or metric"),
        ({"metric": "won_deals", "op": ">=", "target": True}, "criteria.target: expected a whole number."),
        ({"metric": "won_deals", "op": ">=", "target": -1}, "criteria.target: must lie between"),
        ({"metric": "sales_amount", "op": ">=", "target": "-5"}, "criteria.target: an amount lies between 0"),
        (
            {"metric": "sales_amount", "op": ">=", "target": "NaN"},
            "criteria.target: an amount lies between 0",
        ),
        ({"metric": "sales_amount", "op": ">=", "target": [1]}, "criteria.target: expected an amount"),
        ({"metric": "partner_attribute", "op": "in", "target": ["gb"]}, "criteria.attribute: required"),
        (
            {"metric": "partner_attribute", "attribute": "region", "op": "in", "target": ["mars"]},
            "criteria.target: unknown value(s) 'mars'",
        ),
        (
            {"metric": "partner_attribute", "attribute": "region", "op": ">=", "target": "emea"},
            "criteria.op: '>=' is not a comparison for partner_attribute",
        ),
        (
            {"metric": "won_deals", "window": {"kind": "rolling_days"}, "op": ">=", "target": 1},
            "criteria.window.days: a rolling window needs whole days",
        ),
        (
            {"metric": "won_deals", "window": {"kind": "fortnight"}, "op": ">=", "target": 1},
            "criteria.window.kind: 'fortnight' is not a window",
        ),
        (
            {
                "metric": "won_deals",
                "window": {"kind": "all_time", "fiscal_year_start_month": 4},
                "op": ">=",
                "target": 1,
            },
            "criteria.window.fiscal_year_start_month: only quarters and years",
        ),
        (
            {"metric": "certified_people", "tracks": ["juggling"], "op": ">=", "target": 1},
            "criteria.tracks: unknown value(s) 'juggling'",
        ),
        (
            {"metric": "service_offerings", "min_level": 7, "op": ">=", "target": 1},
            "criteria.min_level: must lie between 1 and 3",
        ),
    ],
)
def test_invalid_trees_are_rejected_with_a_clear_message(data, expected):
    errors = _errors(data)
    assert any(error.startswith(expected) for error in errors), errors


def test_money_targets_never_become_floats():
    criteria = _parse({"metric": "sales_amount", "op": ">=", "target": 0.1})
    assert criteria.leaves[0].target == Decimal("0.1")
    assert criteria.to_json()["target"] == "0.1"


def test_a_gate_without_a_currency_needs_one_for_money():
    errors = _errors({"metric": "sales_amount", "op": ">=", "target": 1}, currency=None)
    assert errors == ["criteria.currency: None is not a known ISO 4217 currency."]


def test_deep_and_wide_trees_are_bounded():
    deep: dict = {"metric": "won_deals", "op": ">=", "target": 1}
    for _ in range(20):
        deep = {"not": deep}
    assert any("nested more than" in e for e in _errors(deep))
    wide = {"all": [{"metric": "won_deals", "op": ">=", "target": i} for i in range(101)]}
    assert any("more than 100 conditions" in e for e in _errors(wide))


def test_compare_handles_every_operator_and_missing_values():
    assert compare(">=", 5, 5) and not compare(">", 5, 5)
    assert compare("<=", 4, 5) and compare("<", 4, 5)
    assert compare("==", "gb", "gb") and compare("!=", "gb", "us")
    assert compare("in", "gb", ("gb", "us")) and compare("not_in", "fr", ("gb",))
    assert not compare(">=", None, 0)
    assert compare("not_in", None, ("gb",))


def test_the_language_is_independent_of_the_registry():
    spec = MetricSpec(
        "widgets", "Widgets", "count", {"colour": Param("choice", choices=lambda: ["red", "blue"])}
    )
    criteria = parse(
        {"metric": "widgets", "colour": "red", "op": ">", "target": 2},
        metrics={"widgets": spec},
        default_currency=None,
        currencies=lambda code: False,
    )
    assert evaluate(criteria, [3]).passed
    with pytest.raises(CriteriaError, match=r"criteria\.colour: 'green' is not one of red, blue"):
        parse(
            {"metric": "widgets", "colour": "green", "op": ">", "target": 2},
            metrics={"widgets": spec},
            default_currency=None,
            currencies=lambda code: False,
        )
