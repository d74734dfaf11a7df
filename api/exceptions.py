"""One error body for every API failure.

Every error answers with the same JSON::

    {"status": 400, "code": "invalid", "detail": "…", "errors": {"field": ["…"]}}

``errors`` appears on validation errors only and maps each field (or
``non_field_errors``) to its messages; criteria errors name the place in the
tree (``criteria.all[1].target: …``).
"""

import logging

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from criteria.tree import CriteriaError
from prm.text import scrub, storable_problem

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class InUse(exceptions.APIException):
    """A delete the database refuses: other rows still refer to the object (PROTECT, RESTRICT)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This object is still in use; remove what refers to it first."
    default_code = "protected"


def in_use(exc: ProtectedError | RestrictedError) -> InUse:
    """Name what still refers to the object: "still in use by 2 gates and 1 partner tier"."""
    referring = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    counts: dict[tuple[str, str], int] = {}
    for obj in referring:
        key = (str(obj._meta.verbose_name), str(obj._meta.verbose_name_plural))
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return InUse()
    parts = [f"{n} {one if n == 1 else many}" for (one, many), n in sorted(counts.items())]
    used_by = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return InUse(f"This object is still in use by {used_by}; remove or change those first.")


def django_errors(exc: DjangoValidationError) -> dict:
    """A Django ValidationError as the API's errors, with ``__all__`` called non_field_errors."""
    errors = as_serializer_error(exc)
    if NON_FIELD_ERRORS in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
    return errors


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, ProtectedError | RestrictedError):
        return in_use(exc)
    if isinstance(exc, CriteriaError):
        return exceptions.ValidationError({"criteria": exc.errors})
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(django_errors(exc))
    if isinstance(exc, DataError):
        # The database refused a value the validation let through (a number
        # beyond its range): the request is at fault, not the server.
        logger.warning("database refused a request value: %s", exc)
        return exceptions.ValidationError({"non_field_errors": ["A value is out of the accepted range."]})
    return exc


# The code of a refusal DRF answered for one of Django's exceptions, by its status.
_STATUS_CODES = {403: "permission_denied", 404: "not_found"}


# Errors that say the request conflicts with the present state of what it names (a deal
# already lost, a name already taken) rather than being malformed: 409, as HTTP has it.
CONFLICT_CODES = frozenset({"conflict", "unique", "unique_together"})


def _leaf_codes(codes) -> set:
    if isinstance(codes, dict):
        return set().union(*(_leaf_codes(value) for value in codes.values())) if codes else set()
    if isinstance(codes, list):
        return set().union(*(_leaf_codes(value) for value in codes)) if codes else set()
    return {codes}


def api_exception_handler(exc: Exception, context) -> Response | None:
    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling logs it
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        conflict = bool(_leaf_codes(exc.get_codes())) and _leaf_codes(exc.get_codes()) <= CONFLICT_CODES
        if conflict:
            response.status_code = status.HTTP_409_CONFLICT
        body = {
            "status": response.status_code,
            "code": "conflict" if conflict else "invalid",
            "detail": _summary(errors),
            "errors": errors,
        }
    else:
        if isinstance(exc, Http404):
            code, detail = "not_found", "Not found."
        elif isinstance(exc, exceptions.APIException):
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else "error"
            detail = str(exc.detail if not isinstance(exc.detail, dict | list) else exc.default_detail)
        else:
            # Django's own exceptions, which DRF answers: a service's PermissionDenied is a 403.
            code = _STATUS_CODES.get(response.status_code, "error")
            detail = str(response.data.get("detail", ""))
        body = {"status": response.status_code, "code": code, "detail": detail}
    response.data = _printable(body)
    return response


def _printable(value):
    """Messages may quote what was sent ('"x" is not a valid choice'): never a character the
    response cannot be encoded with (a lone surrogate), nor a NUL."""
    if isinstance(value, str):
        return scrub(value) if storable_problem(value) else value
    if isinstance(value, dict):
        return {_printable(key): _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def _summary(errors) -> str:
    """The first message, so that a client logging only ``detail`` logs something useful."""
    for field, messages in errors.items():
        first = messages
        while isinstance(first, list | dict) and first:
            first = first[0] if isinstance(first, list) else next(iter(first.values()))
        if isinstance(first, str):
            return first if field == "non_field_errors" else f"{field}: {first}"
    return "The request is not valid."
