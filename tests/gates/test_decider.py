"""The compiled decider decides every tree as the tree itself does, whatever the measures."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from criteria.tree import Branch, Criteria, Leaf, evaluate, iter_leaves
from gates.engine import compile_decider

NUMBERS = st.one_of(
    st.none(), st.integers(-5, 5), st.decimals(-5, 5, places=2, allow_nan=False, allow_infinity=False)
)
CHOICES = st.one_of(st.none(), st.sampled_from(["EU", "NA", "APAC"]))


@st.composite
def leaves(draw):
    if draw(st.booleans()):
        op = draw(st.sampled_from([">=", ">", "<=", "<", "==", "!="]))
        return ("number", op, draw(st.integers(-5, 5) | st.decimals(-5, 5, places=1, allow_nan=False)))
    op = draw(st.sampled_from(["in", "not_in", "==", "!="]))
    if op in {"in", "not_in"}:
        return ("choice", op, tuple(draw(st.sets(st.sampled_from(["EU", "NA", "APAC"]), max_size=3))))
    return ("choice", op, draw(st.sampled_from(["EU", "NA", "APAC"])))


def shapes():
    return st.recursive(
        leaves(),
        lambda children: st.one_of(
            st.tuples(st.sampled_from(["all", "any"]), st.lists(children, min_size=1, max_size=4)),
            st.tuples(st.just("not"), st.lists(children, min_size=1, max_size=1)),
        ),
        max_leaves=8,
    )


def build(shape) -> tuple[Criteria, list[str]]:
    """A tree from a drawn shape, with its leaves numbered in order, and each leaf's kind of value."""
    kinds: list[str] = []

    def node(part, path):
        if part[0] in {"all", "any", "not"}:
            kind, children = part
            return Branch(
                kind, tuple(node(child, f"{path}.{kind}[{i}]") for i, child in enumerate(children)), path
            )
        value_kind, op, target = part
        kinds.append(value_kind)
        return Leaf(len(kinds) - 1, path, "metric", op, target, {})

    root = node(shape, "$")
    return Criteria(root, tuple(iter_leaves(root))), kinds


@given(shape=shapes(), data=st.data())
def test_the_compiled_decider_agrees_with_the_tree(shape, data):
    criteria, kinds = build(shape)
    values = [data.draw(NUMBERS if kind == "number" else CHOICES) for kind in kinds]
    assert compile_decider(criteria)(values) is evaluate(criteria, values).passed


@given(shape=shapes(), data=st.data())
def test_the_decider_reads_a_measurers_columns_when_given_them(shape, data):
    criteria, kinds = build(shape)
    values = [data.draw(NUMBERS if kind == "number" else CHOICES) for kind in kinds]
    # The measurer's row holds other columns too: each leaf's value sits at its column.
    columns = [2 * index + 1 for index in range(len(values))]
    row = [Decimal("99")] * (2 * len(values) + 1)
    for index, value in zip(columns, values, strict=True):
        row[index] = value
    assert compile_decider(criteria, columns)(row) is evaluate(criteria, values).passed


def test_targets_are_bound_as_values_never_written_into_the_source():
    # A target that would be code if it were pasted into the source stays a plain string.
    leaf = Leaf(0, "$", "metric", "==", "__import__('os').system('false')", {})
    decide = compile_decider(Criteria(leaf, (leaf,)))
    assert decide(["__import__('os').system('false')"]) is True
    assert decide(["EU"]) is False
