"""Hooks that programs offer to the layers above them.

A segment is defined by criteria, and the criteria language (with its checks
against the reference data) sits above programs. So programs do not import
it: the gates register their check here in ``GatesConfig.ready``, and a
segment asks the registered check when it is validated.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

CriteriaCheck = Callable[..., list[str]]
_criteria_checks: list[CriteriaCheck] = []


def register_criteria_check(check: CriteriaCheck) -> None:
    """Called once by the app that owns the criteria language; a repeated registration is ignored."""
    if check not in _criteria_checks:
        _criteria_checks.append(check)


def criteria_errors(criteria: Any, *, default_currency: str | None) -> list[str]:
    """What is wrong with a criteria tree, in the words of the registered check (empty when nothing)."""
    if not _criteria_checks:
        raise ImproperlyConfigured("No criteria check is registered: the gates app must be installed.")
    return [
        error for check in _criteria_checks for error in check(criteria, default_currency=default_currency)
    ]
