"""The criteria language: parse, validate and evaluate boolean trees over measured values.

Pure Python, with no ORM import, so that it can be tested without a database
and reused for gates and segments alike. A tree is written as JSON::

    {"all": [
        {"metric": "certified_people", "tracks": ["presales"], "op": ">=", "target": 5},
        {"any": [
            {"metric": "sales_amount", "window": {"kind": "quarter_to_date"},
             "op": ">=", "target": "500000", "currency": "USD"},
            {"not": {"metric": "partner_attribute", "attribute": "status",
                     "op": "in", "target": ["suspended"]}}
        ]}
    ]}

Branches are ``all``, ``any`` and ``not``; leaves name a metric from a
registry of ``MetricSpec`` (passed in by the caller, so the language does not
know how metrics are measured), a comparison and a target, plus the metric's
own parameters. Every error names its place in the tree, such as
``criteria.all[1].any[0].target``.
"""

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from criteria.windows import Window, parse_window

NUMERIC_OPS = {">=", ">", "<=", "<", "==", "!="}
SET_OPS = {"in", "not_in"}
EQUALITY_OPS = {"==", "!="}
MAX_DEPTH = 12
MAX_LEAVES = 100
MAX_MONEY = Decimal("1e15")
MAX_COUNT = 10**9

ValueKind = Literal["count", "money", "points", "months", "rank", "choice"]


class CriteriaError(ValueError):
    """Raised with every problem found, each naming its place in the tree."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


# --- parameters a metric accepts ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a metric and how to validate it."""

    kind: Literal["codes", "window", "int", "choice", "bool", "string"]
    required: bool = False
    choices: Callable[[], Sequence[str]] | None = None
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""

    def parse(self, value: Any, path: str, errors: list[str]) -> Any:
        if self.kind == "window":
            return parse_window(value, path, errors)
        if self.kind == "codes":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                errors.append(f"{path}: expected a list of codes.")
                return ()
            if self.choices is not None:
                allowed = set(self.choices())
                unknown = [v for v in value if v not in allowed]
                if unknown:
                    errors.append(f"{path}: unknown value(s) {', '.join(map(repr, unknown))}.")
            return tuple(sorted(set(value)))
        if self.kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append(f"{path}: expected a whole number.")
                return self.minimum or 0
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                errors.append(f"{path}: must lie between {self.minimum} and {self.maximum}.")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                errors.append(f"{path}: expected true or false.")
                return False
            return value
        if self.kind == "choice":
            choices = list(self.choices()) if self.choices else []
            if value not in choices:
                errors.append(f"{path}: {value!r} is not one of {', '.join(choices)}.")
            return value
        if not isinstance(value, str) or not value:
            errors.append(f"{path}: expected a non-empty string.")
            return ""
        return value


@dataclass(frozen=True)
class MetricSpec:
    """What the language knows of a metric: its parameters, its value and how to describe it.

    ``target_choices`` gives the allowed targets of a ``choice`` metric, given
    the leaf's parameters (the attribute a ``partner_attribute`` leaf reads).
    ``reference_checker`` may look codes up (product lines, certification
    types...) and return messages; the pure parser never calls a database.
    """

    name: str
    label: str
    value_kind: ValueKind
    params: Mapping[str, Param] = field(default_factory=dict)
    uses_currency: bool = False
    target_choices: Callable[[Mapping[str, Any]], Sequence[str]] | None = None
    describe: Callable[["Leaf"], str] | None = None

    @property
    def ops(self) -> set[str]:
        if self.value_kind == "choice":
            return SET_OPS | EQUALITY_OPS
        return NUMERIC_OPS


# --- the tree ------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    index: int
    path: str
    metric: str
    op: str
    target: Any
    params: Mapping[str, Any]
    currency: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"metric": self.metric}
        for name, value in sorted(self.params.items()):
            if isinstance(value, Window):
                data[name] = value.to_json()
            elif isinstance(value, tuple):
                data[name] = list(value)
            else:
                data[name] = value
        data["op"] = self.op
        if isinstance(self.target, Decimal):
            data["target"] = format(self.target, "f")
        elif isinstance(self.target, tuple):
            data["target"] = list(self.target)
        else:
            data["target"] = self.target
        if self.currency:
            data["currency"] = self.currency
        return data

    def compare(self, value: Any) -> bool:
        return compare(self.op, value, self.target)


@dataclass(frozen=True)
class Branch:
    kind: Literal["all", "any", "not"]
    children: tuple["Node", ...]
    path: str

    def to_json(self) -> dict[str, Any]:
        if self.kind == "not":
            return {"not": self.children[0].to_json()}
        return {self.kind: [child.to_json() for child in self.children]}


Node = Leaf | Branch


@dataclass(frozen=True)
class Criteria:
    root: Node
    leaves: tuple[Leaf, ...]

    def to_json(self) -> dict[str, Any]:
        return self.root.to_json()

    def metrics(self) -> set[str]:
        return {leaf.metric for leaf in self.leaves}


# --- parsing -------------------------------------------------------------------


def parse(
    data: Any,
    *,
    metrics: Mapping[str, MetricSpec],
    default_currency: str | None,
    currencies: Callable[[str], bool],
    root_path: str = "criteria",
) -> Criteria:
    """Validate ``data`` and build the tree, or raise ``CriteriaError`` with every problem."""
    errors: list[str] = []
    leaves: list[Leaf] = []

    def node(value: Any, path: str, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            errors.append(f"{path}: the tree is nested more than {MAX_DEPTH} levels deep.")
            return None
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object with all, any, not or metric.")
            return None
        branch_keys = [key for key in ("all", "any", "not") if key in value]
        if branch_keys:
            if len(value) != 1:
                extra = sorted(set(value) - {branch_keys[0]})
                errors.append(
                    f"{path}: a {branch_keys[0]} branch takes nothing else (found {', '.join(extra)})."
                )
                return None
            kind = branch_keys[0]
            if kind == "not":
                child = node(value["not"], f"{path}.not", depth + 1)
                return Branch("not", (child,), path) if child is not None else None
            items = value[kind]
            if not isinstance(items, list) or not items:
                errors.append(f"{path}.{kind}: expected a non-empty list of conditions.")
                return None
            children = [node(item, f"{path}.{kind}[{i}]", depth + 1) for i, item in enumerate(items)]
            if any(child is None for child in children):
                return None
            return Branch(kind, tuple(c for c in children if c is not None), path)  # type: ignore[arg-type]
        if "metric" in value:
            return leaf(value, path)
        errors.append(
            f"{path}: expected one of all, any, not or metric (found {', '.join(sorted(value)) or 'nothing'})."
        )
        return None

    def leaf(value: dict[str, Any], path: str) -> Leaf | None:
        name = value.get("metric")
        spec = metrics.get(name) if isinstance(name, str) else None
        if spec is None:
            errors.append(f"{path}.metric: unknown metric {name!r}; known: {', '.join(sorted(metrics))}.")
            return None
        before = len(errors)
        allowed = (
            set(spec.params) | {"metric", "op", "target"} | ({"currency"} if spec.uses_currency else set())
        )
        unknown = sorted(set(value) - allowed)
        if unknown:
            errors.append(f"{path}: unknown field(s) {', '.join(unknown)} for metric {name}.")
        params: dict[str, Any] = {}
        for param_name, param in spec.params.items():
            if param_name in value:
                params[param_name] = param.parse(value[param_name], f"{path}.{param_name}", errors)
            elif param.required:
                errors.append(f"{path}.{param_name}: required for metric {name}.")
            elif param.kind == "window":
                params[param_name] = Window()
        op = value.get("op")
        # A list or an object is no comparison either (and cannot be looked up in the set).
        if not isinstance(op, str) or op not in spec.ops:
            errors.append(
                f"{path}.op: {op!r} is not a comparison for {name}; use one of {', '.join(sorted(spec.ops))}."
            )
            op = op if isinstance(op, str) else None
        if "target" not in value:
            errors.append(f"{path}.target: missing.")
            target: Any = None
        else:
            target = _parse_target(spec, value["target"], op, params, f"{path}.target", errors)
        currency = None
        if spec.uses_currency:
            currency = value.get("currency", default_currency)
            if not isinstance(currency, str) or not currencies(currency):
                errors.append(f"{path}.currency: {currency!r} is not a known ISO 4217 currency.")
        if len(errors) > before:
            return None
        assert isinstance(name, str) and isinstance(op, str)  # checked above: errors would have returned
        built = Leaf(len(leaves), path, name, op, target, params, currency)
        leaves.append(built)
        if len(leaves) > MAX_LEAVES:
            errors.append(f"{path}: more than {MAX_LEAVES} conditions in one tree.")
        return built

    root = node(data, root_path, 0)
    if errors or root is None:
        raise CriteriaError(errors or [f"{root_path}: invalid criteria."])
    return Criteria(root, tuple(leaves))


def _parse_target(
    spec: MetricSpec, value: Any, op: Any, params: Mapping[str, Any], path: str, errors: list[str]
) -> Any:
    kind = spec.value_kind
    if kind == "choice":
        allowed = list(spec.target_choices(params)) if spec.target_choices else None
        if op in SET_OPS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                errors.append(f"{path}: expected a non-empty list of values.")
                return ()
            values = value
        else:
            if not isinstance(value, str):
                errors.append(f"{path}: expected a single value.")
                return ""
            values = [value]
        if allowed is not None:
            unknown = [v for v in values if v not in allowed]
            if unknown:
                shown = ", ".join(allowed[:12]) + ("…" if len(allowed) > 12 else "")
                errors.append(f"{path}: unknown value(s) {', '.join(map(repr, unknown))}; expected {shown}.")
        return tuple(sorted(set(values))) if op in SET_OPS else value
    if kind == "money":
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            errors.append(f'{path}: expected an amount such as "500000" or 500000.')
            return Decimal(0)
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            errors.append(f"{path}: {value!r} is not an amount.")
            return Decimal(0)
        if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
            errors.append(f"{path}: an amount lies between 0 and {MAX_MONEY:,f}.")
            return Decimal(0)
        return amount
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(f"{path}: expected a whole number.")
        return 0
    if not 0 <= value <= MAX_COUNT:
        errors.append(f"{path}: must lie between 0 and {MAX_COUNT}.")
        return 0
    return value


# --- evaluation ----------------------------------------------------------------


def compare(op: str, value: Any, target: Any) -> bool:
    if value is None:
        return op in {"!=", "not_in"}
    if op == ">=":
        return value >= target
    if op == ">":
        return value > target
    if op == "<=":
        return value <= target
    if op == "<":
        return value < target
    if op == "==":
        return value == target
    if op == "!=":
        return value != target
    if op == "in":
        return value in target
    if op == "not_in":
        return value not in target
    raise ValueError(f"unknown comparison {op!r}")


@dataclass(frozen=True, slots=True)
class LeafOutcome:
    leaf: Leaf
    value: Any
    passed: bool


@dataclass(frozen=True)
class Outcome:
    """The decision and its reasons: every leaf's measured value and result."""

    passed: bool
    leaves: tuple[LeafOutcome, ...]

    def failing(self) -> list[LeafOutcome]:
        return [outcome for outcome in self.leaves if not outcome.passed]


def evaluate(criteria: Criteria, values: Sequence[Any]) -> Outcome:
    """Decide the tree for one partner, ``values`` being its measures in leaf order."""
    leaf_results = [leaf.compare(values[leaf.index]) for leaf in criteria.leaves]

    def decide(node: Node) -> bool:
        if isinstance(node, Leaf):
            return leaf_results[node.index]
        if node.kind == "all":
            return all(decide(child) for child in node.children)
        if node.kind == "any":
            return any(decide(child) for child in node.children)
        return not decide(node.children[0])

    return Outcome(
        passed=decide(criteria.root),
        leaves=tuple(
            LeafOutcome(leaf, values[leaf.index], passed)
            for leaf, passed in zip(criteria.leaves, leaf_results, strict=True)
        ),
    )


def iter_leaves(node: Node) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    else:
        for child in node.children:
            yield from iter_leaves(child)
