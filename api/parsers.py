"""JSON parsing with a size ceiling, storable text only, and exact decimals for amounts.

DRF reads the body from the request stream, past Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` check, so the ceiling is enforced here:
a body over ``PRM_API_MAX_BODY_BYTES`` answers 413 before it is read whole.

JSON can carry what the database cannot store (``"\u0000"``, a lone
``"\ud800"``), and every field, relation lookup and JSON document of a
request could pass it on; the parser refuses it once for all of them, naming
its place (``criteria.all[0].metric``). Bulk ingestion is the exception: one
bad record must not refuse the batch, so its text parser rejects that record
alone (``partners.ingestion``).
"""

import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from api.exceptions import PayloadTooLarge
from prm.text import first_unstorable


def max_body_bytes() -> int:
    return getattr(settings, "PRM_API_MAX_BODY_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


class BoundedJSONParser(JSONParser):
    parse_float: Callable[[str], Any] = staticmethod(_finite_float)
    # Whether text the database cannot store refuses the whole body (see the module docstring).
    refuse_unstorable_text = True

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            if declared and int(declared) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit:,} bytes.")
        except ValueError as exc:
            raise ParseError("The Content-Length header is not a number.") from exc
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit:,} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
            data = json.loads(text, parse_constant=_reject_constant, parse_float=self.parse_float)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("The body is nested too deeply.") from exc
        if self.refuse_unstorable_text:
            found = first_unstorable(data)
            if found is not None:
                place, problem = found
                raise ValidationError({place or "non_field_errors": [problem]})
        return data


class DecimalJSONParser(BoundedJSONParser):
    """For bulk ingestion: numbers with a fraction become ``Decimal`` (an amount sent as 1234.56
    stays exact), and each record's text is checked by the ingestion, which rejects that record alone."""

    parse_float = staticmethod(Decimal)
    refuse_unstorable_text = False
