"""Text the database can store, and the one rule that refuses the rest.

PostgreSQL refuses a NUL character in text and in JSON, and a string holding
half of a UTF-16 surrogate pair (``"\\ud800"``, which JSON may carry) cannot
even be encoded to send it. SQLite takes both, so nothing would show until
production. Every way in checks with this rule: form and query parameters
by ``prm.middleware``, the API's JSON bodies by its parser
(``api.parsers``), bulk records by the ingestion's text parser, and the
admin's JSON fields, whose text spells such characters as escapes, by
``validate_storable`` (``prm.forms``).
"""

import re
from typing import Any

from django.core.exceptions import ValidationError

NUL_MESSAGE = "Null characters are not allowed."
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_problem(text: str) -> str | None:
    """Why the database cannot store this text, or None when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        # DRF's wording, so that the API says the same whichever check answers.
        return f"Surrogate characters are not allowed: U+{ord(surrogate.group()):X}."
    return None


def first_unstorable(value: Any) -> tuple[str, str] | None:
    """The first string (key or value) in a JSON-like value the database cannot store.

    Returns ``(place, problem)``, the place written like ``criteria.all[1].target``
    (empty for the value itself), or None when every string is storable. It walks
    with a stack of its own: a document nested as deep as the JSON decoder
    allows must not overflow Python's.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        place, item = stack.pop()
        if isinstance(item, str):
            problem = storable_problem(item)
            if problem:
                return place, problem
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                key_text = str(key)
                problem = storable_problem(key_text)
                if problem:
                    return place, f"A key: {problem}"
                children.append((f"{place}.{key_text}" if place else key_text, child))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(f"{place}[{index}]", child) for index, child in enumerate(item)]))
    return None


def validate_storable(value: Any) -> None:
    """A validator for text and JSON fields of forms and serializers."""
    found = first_unstorable(value)
    if found is not None:
        place, problem = found
        raise ValidationError(f"{place}: {problem}" if place else problem, code="unstorable")


def scrub(text: str) -> str:
    """The text with every unstorable character replaced by U+FFFD, to echo it back safely."""
    return _UNSTORABLE.sub("\ufffd", text)
