"""The JSON Schema of the criteria language against the parser it describes.

The schema must accept every tree the parser accepts (so an editor or an
integrator driven by it can say everything) and the parser must refuse every
tree the schema refuses (so the schema never promises what the API refuses).
The corpus is every criteria tree written in the tests and the demo.
"""

import ast
from pathlib import Path

import jsonschema
import pytest

from core.money import is_currency
from criteria.schema import component_name
from criteria.tree import MAX_DEPTH, CriteriaError, parse
from gates.criteria_schema import criteria_json_schema
from gates.metrics import SPECS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = criteria_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def parses(tree) -> bool:
    try:
        parse(tree, metrics=SPECS, default_currency="USD", currencies=is_currency)
    except CriteriaError:
        return False
    return True


def _looks_like_tree(value) -> bool:
    return isinstance(value, dict) and (
        "metric" in value or (len(value) == 1 and next(iter(value)) in ("all", "any", "not"))
    )


def _literal_trees(path: Path) -> list:
    """Every dict literal in a module that reads as a criteria tree (the outermost ones)."""
    found: list = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Dict):
            try:
                value = ast.literal_eval(node)
            except ValueError:
                value = None  # names a variable: its inner literals may still be trees
            if _looks_like_tree(value):
                found.append(value)
                return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def corpus() -> list:
    files = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "demo").rglob("*.py")])
    return [tree for path in files for tree in _literal_trees(path)]


def test_the_schema_is_a_valid_draft_2020_12_schema(validator):
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_metric_of_the_registry_has_its_leaf():
    defs = criteria_json_schema()["$defs"]
    leaves = defs["CriteriaLeaf"]["oneOf"]
    assert {ref["$ref"] for ref in leaves} == {f"#/$defs/{component_name(name)}" for name in SPECS}
    assert set(defs["CriteriaLeaf"]["discriminator"]["mapping"]) == set(SPECS)


def test_every_tree_of_the_tests_and_demo_reads_the_same_in_the_schema(validator):
    trees = corpus()
    valid = [tree for tree in trees if parses(tree)]
    # The corpus is large, and holds both kinds (the tests write bad trees on purpose).
    assert len(valid) >= 60 and len(trees) - len(valid) >= 20, (len(valid), len(trees))
    disagreements = [tree for tree in trees if validator.is_valid(tree) != parses(tree)]
    # Only what the schema cannot state may differ: depth and the number of leaves.
    assert all(validator.is_valid(tree) and not parses(tree) for tree in disagreements), disagreements


LEAF = {"metric": "certified_people", "op": ">=", "target": 5}
BAD_TREES = [
    {},
    [],
    {"all": []},
    {"any": {"metric": "certified_people"}},
    {"all": [LEAF], "any": [LEAF]},
    {"not": [LEAF]},
    {"metric": "no_such_metric", "op": ">=", "target": 1},
    {"metric": "certified_people", "target": 5},
    {"metric": "certified_people", "op": ">="},
    {**LEAF, "op": "in"},
    {**LEAF, "target": "five"},
    {**LEAF, "target": -1},
    {**LEAF, "target": True},
    {**LEAF, "target": 10**10},
    {**LEAF, "colour": "blue"},
    {**LEAF, "currency": "USD"},
    {**LEAF, "tracks": ["no-such-track"]},
    {**LEAF, "tracks": [""]},
    {**LEAF, "advanced_only": "yes"},
    {**LEAF, "window": {"kind": "fortnight"}},
    {**LEAF, "window": {"kind": "rolling_days"}},
    {**LEAF, "window": {"kind": "rolling_days", "days": 0}},
    {**LEAF, "window": {"kind": "rolling_months", "months": 121}},
    {**LEAF, "window": {"kind": "quarter_to_date", "days": 3}},
    {**LEAF, "window": {"kind": "all_time", "fiscal_year_start_month": 4}},
    {**LEAF, "window": {"kind": "last_year", "fiscal_year_start_month": 13}},
    {**LEAF, "window": "rolling_days"},
    {**LEAF, "window": 7},
    {"metric": "sales_amount", "op": ">=", "target": "lots"},
    {"metric": "sales_amount", "op": ">=", "target": "-5"},
    {"metric": "sales_amount", "op": ">=", "target": 1e16},
    {"metric": "sales_amount", "op": ">=", "target": "5", "currency": "XYZ"},
    {"metric": "sales_amount", "op": ">=", "target": "5", "countries": ["UK"]},
    {"metric": "sales_amount", "op": ">=", "target": "5", "regions": ["europe"]},
    {"metric": "won_deals", "op": ">=", "target": 1, "customer_segments": "enterprise", "currency": "GBP"},
    {"metric": "certifications", "op": ">=", "target": 3, "distinct_types": 1},
    {"metric": "certifications", "op": ">=", "target": 3, "min_level": 2},
    {"metric": "registered_deals", "op": ">=", "target": 1, "statuses": ["pending"]},
    {"metric": "service_offerings", "op": ">=", "target": 1, "min_level": 4},
    {"metric": "partner_attribute", "op": "in", "target": ["GB"]},
    {"metric": "partner_attribute", "attribute": "size", "op": "in", "target": ["GB"]},
    {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": ["XX"]},
    {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": []},
    {"metric": "partner_attribute", "attribute": "country", "op": "==", "target": ["GB"]},
    {"metric": "partner_attribute", "attribute": "status", "op": ">=", "target": "active"},
    {"metric": "current_tier", "op": ">=", "target": 2},
    {"metric": "current_tier", "program": "", "op": ">=", "target": 2},
    {"metric": "months_since_joining", "op": ">=", "target": 1.5},
]


@pytest.mark.parametrize("tree", BAD_TREES, ids=range(len(BAD_TREES)))
def test_a_bad_tree_is_refused_by_the_schema_and_by_the_validator(validator, tree):
    assert not validator.is_valid(tree)
    assert not parses(tree)


def _nested(depth: int) -> dict:
    tree: dict = LEAF
    for _ in range(depth):
        tree = {"not": tree}
    return tree


@pytest.mark.parametrize(
    "tree",
    [
        _nested(MAX_DEPTH + 1),
        {"all": [LEAF] * 101},
    ],
    ids=["too deep", "too many leaves"],
)
def test_what_the_schema_cannot_state_the_validator_refuses(validator, tree):
    assert validator.is_valid(tree)
    assert not parses(tree)


GOOD_TREES = [
    {"metric": "certifications", "distinct_types": True, "tracks": ["technical"], "op": ">=", "target": 3},
    {"metric": "certifications", "certification_types": "sales-engineer", "op": ">=", "target": 3.0},
    {
        "metric": "sales_amount",
        "countries": ["GB"],
        "customer_segments": ["enterprise"],
        "regions": "emea",
        "window": {"kind": "last_quarter", "fiscal_year_start_month": 4},
        "op": ">=",
        "target": "1000000.00",
        "currency": "GBP",
    },
    {"metric": "sales_amount", "op": ">", "target": 500000},
    {"metric": "won_deals", "countries": "US", "window": "year_to_date", "op": ">=", "target": 10},
    {"metric": "registered_deals", "customer_segments": ["mid-market"], "op": ">=", "target": 2},
    {"metric": "partner_attribute", "attribute": "country", "op": "in", "target": "GB"},
    {"metric": "partner_attribute", "attribute": "status", "op": "!=", "target": "suspended"},
    {"metric": "current_tier", "program": "partner-network", "op": "==", "target": 0},
    {"any": [{"not": {"all": [LEAF, {"metric": "months_since_joining", "op": "<", "target": 6}]}}, LEAF]},
]


@pytest.mark.parametrize("tree", GOOD_TREES, ids=range(len(GOOD_TREES)))
def test_a_good_tree_is_accepted_by_both(validator, tree):
    assert validator.is_valid(tree), list(validator.iter_errors(tree))
    assert parses(tree)


def test_enums_come_from_the_static_choices_and_codes_stay_strings():
    defs = criteria_json_schema()["$defs"]
    sales = defs["CriteriaLeafSalesAmount"]["properties"]
    countries = sales["countries"]["anyOf"][0]["items"]["enum"]
    assert "GB" in countries and "UK" not in countries
    assert sales["regions"]["anyOf"][0]["items"]["enum"] == ["na", "latam", "emea", "apac"]
    # Product lines and customer segments are the installation's: codes, checked by the validation.
    assert sales["product_lines"]["anyOf"][0]["items"] == {"type": "string", "minLength": 1}
    assert sales["customer_segments"]["anyOf"][0]["items"] == {"type": "string", "minLength": 1}
    assert sales["target"]["anyOf"][0]["type"] == "string"
    assert defs["CriteriaLeafCertifications"]["properties"]["target"]["type"] == "integer"
    assert sales["window"] == {"$ref": "#/$defs/CriteriaWindow"}
