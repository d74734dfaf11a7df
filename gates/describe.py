"""A criteria tree in plain language: the one sentence the admin builder, the portal and the API show.

Each condition reads as the metric's own description (``MetricSpec.describe``,
the words the portal's progress uses), a comparison in words and the target as
the portal displays it; branches join their conditions with "and" / "or".
"""

from typing import Any

from criteria.tree import Branch, Criteria, Leaf
from gates.metrics import METRICS, References, counted, leaf_description
from gates.selectors import display_value

OP_WORDS = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "fewer than",
    "==": "exactly",
    "!=": "other than",
    "in": "one of",
    "not_in": "none of",
}


def leaf_sentence(leaf: Leaf, refs: References) -> str:
    target = display_value(leaf, leaf.target, refs)
    words = OP_WORDS[leaf.op]
    if METRICS[leaf.metric].spec.value_kind == "choice":
        return f"{leaf_description(leaf)} is {words} {target}"
    description = leaf_description(leaf)
    if METRICS[leaf.metric].spec.value_kind == "count":
        description = counted(leaf.target, description)
    return f"{words} {target} {description}"


def _node(node: Any, refs: References, nested: bool) -> str:
    if isinstance(node, Leaf):
        return leaf_sentence(node, refs)
    assert isinstance(node, Branch)
    if node.kind == "not":
        return f"not ({_node(node.children[0], refs, True)})"
    parts = [_node(child, refs, True) for child in node.children]
    if len(parts) == 1:
        return parts[0]
    text = (" and " if node.kind == "all" else " or ").join(parts)
    if node.kind == "any":
        text = "either " + text
    return f"({text})" if nested else text


def describe_criteria(criteria: Criteria, refs: References | None = None) -> str:
    """The whole rule: "at least 5 people holding … and at least 500,000 USD won sales this quarter"."""
    text = _node(criteria.root, refs or References(), nested=False)
    return text[:1].upper() + text[1:] + "."
